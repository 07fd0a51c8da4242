// Opens and clicks made by machines rather than people: mail privacy proxies that fetch every
// image on delivery, and security gateways that follow every link before the recipient sees it.
// They are recorded with machine = true and kept out of human open and click counts.
//
// All patterns live in MACHINE_RULES, first match wins. Sources:
//  - Apple Mail Privacy Protection: images are fetched through Apple's proxies, from Apple's own
//    17.0.0.0/8 network, with the bare user agent "Mozilla/5.0" (no platform or engine tokens).
//  - Gmail's image proxy: "... (via ggpht.com GoogleImageProxy)"; it caches images, so its opens
//    do not say when or whether a person read the message.
//  - Security gateways that pre-click links (vendor write-ups and ESP bot-filtering guides):
//    Microsoft Defender for Office 365 Safe Links (BingPreview; Office "existence discovery"
//    requests with a "Microsoft Office" agent), Barracuda Link Protection, Proofpoint URL
//    Defense, Mimecast URL Protect, Cisco Secure Email; headless browsers and HTTP libraries.
//  - Timing: no person clicks a link within two seconds of the message being sent.

export interface MachineEventInput {
  userAgent: string | null | undefined;
  ip: string | null | undefined;
  kind: 'open' | 'click';
  /** Seconds between sending the message and this event. */
  secondsSinceSent: number;
}

export type MachineReason =
  | 'apple_mpp'
  | 'google_image_proxy'
  | 'microsoft_safe_links'
  | 'barracuda'
  | 'proofpoint'
  | 'mimecast'
  | 'cisco_secure_email'
  | 'headless_browser'
  | 'http_library'
  | 'missing_user_agent'
  | 'too_fast';

export type MachineClassification = { machine: true; reason: MachineReason } | { machine: false; reason: null };

/** Clicks sooner than this after sending are treated as link scanners. */
export const SCANNER_CLICK_SECONDS = 2;

interface MachineRule {
  reason: MachineReason;
  kinds: ReadonlyArray<'open' | 'click'>;
  userAgent?: RegExp;
  ip?: (ip: string) => boolean;
  test?: (input: MachineEventInput) => boolean;
}

/** IPv4 (or IPv4-mapped IPv6) address inside Apple's 17.0.0.0/8. */
function inApple17(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const octets = v4.split('.');
  return octets.length === 4 && octets[0] === '17' && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

export const MACHINE_RULES: readonly MachineRule[] = [
  { reason: 'missing_user_agent', kinds: ['open', 'click'], userAgent: /^\s*$/ },
  { reason: 'apple_mpp', kinds: ['open'], userAgent: /^Mozilla\/5\.0$/ },
  { reason: 'apple_mpp', kinds: ['open'], ip: inApple17 },
  { reason: 'google_image_proxy', kinds: ['open'], userAgent: /GoogleImageProxy|via ggpht\.com/i },
  { reason: 'microsoft_safe_links', kinds: ['open', 'click'], userAgent: /BingPreview|SafeLinks/i },
  { reason: 'microsoft_safe_links', kinds: ['click'], userAgent: /Microsoft Office|\bMSOffice\b|ms-office/i },
  { reason: 'barracuda', kinds: ['open', 'click'], userAgent: /Barracuda/i },
  { reason: 'proofpoint', kinds: ['open', 'click'], userAgent: /Proofpoint|urldefense/i },
  { reason: 'mimecast', kinds: ['open', 'click'], userAgent: /Mimecast/i },
  { reason: 'cisco_secure_email', kinds: ['open', 'click'], userAgent: /CiscoSecureEmail|IronPort/i },
  { reason: 'headless_browser', kinds: ['open', 'click'], userAgent: /HeadlessChrome|PhantomJS|Puppeteer|Playwright/i },
  {
    reason: 'http_library',
    kinds: ['open', 'click'],
    userAgent:
      /^(python-requests|python-urllib|aiohttp|curl|Wget|Go-http-client|Java\/|Apache-HttpClient|okhttp|axios|node-fetch|undici|libwww-perl|Jetty)/i,
  },
  { reason: 'too_fast', kinds: ['click'], test: (e) => e.secondsSinceSent < SCANNER_CLICK_SECONDS },
];

export function classifyMachineEvent(input: MachineEventInput): MachineClassification {
  const userAgent = (input.userAgent ?? '').trim();
  const ip = (input.ip ?? '').trim();
  for (const rule of MACHINE_RULES) {
    if (!rule.kinds.includes(input.kind)) continue;
    if (rule.userAgent && !rule.userAgent.test(userAgent)) continue;
    if (rule.ip && !(ip && rule.ip(ip))) continue;
    if (rule.test && !rule.test(input)) continue;
    return { machine: true, reason: rule.reason };
  }
  return { machine: false, reason: null };
}
