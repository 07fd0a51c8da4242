// The wording of bounce replies, as MTAs and mailbox providers phrase them (Postfix, Exim,
// Sendmail, qmail, Courier, Exchange and Microsoft 365, Gmail, Yahoo, Apple, Amazon SES, Mimecast,
// GMX/1&1, Tencent, Orange/La Poste, GoDaddy, Cox, Domino, IMail ...), mapped to a bounce reason.
// Each pattern is kept narrow: a phrase that could be read two ways is left out, and the codes
// decide. Order matters: causes on our side are tried first, because a refusal of our sender, IP
// or message often also names the recipient ("<rcpt>: sender address rejected").
import type { BounceReason } from './bounce.ts';

const WORDING: [BounceReason, RegExp][] = [
  // --- caused by the sender -------------------------------------------------------------------
  [
    'policy_authentication',
    /\bdmarc\b|\bspf\b.{0,40}(?:fail|check|validation|record|not (?:pass|permit|authori[sz]))|(?:fail(?:ed|s|ure)?|softfail)\b.{0,20}\bspf\b|sender policy framework|\bdkim\b.{0,40}(?:fail|invalid|missing|required|not (?:pass|valid|signed))|(?:unsigned|no valid|invalid|failed) dkim\b|unauthenticated (?:e-?mail|mail|message)|authentication (?:check )?fail|(?:does not|doesn't|did not|not|fails? to) pass (?:sender )?authentication|does not have authentication information|(?:smtp )?authentication (?:is )?required|turn on smtp authentication|purported responsible address/i,
  ],
  [
    'policy_authentication',
    /reverse (?:dns|lookup|hostname|address)|\bptr\b|\brdns\b|reverse-dns|cannot find your (?:reverse )?hostname|(?:ip|client) (?:address )?(?:has no|without a?) (?:hostname|ptr|reverse)|unverif(?:y|i)able sending ips?|(?:helo|ehlo)(?: command| name| hostname)? (?:rejected|invalid|not found|does not resolve)|(?:tls|starttls|encryption) (?:is )?(?:required|needed|mandatory)|must issue a starttls/i,
  ],
  [
    'rate_limited',
    /rate[ -]?limit|too many (?:messages|mails|e-?mails|recipients|connections|sessions|concurrent)|sent (?:to )?too many|frequency limited|receiving (?:mail|messages) at a rate|(?:hourly|daily|sending|relay) (?:sending |message |relay )?(?:limit|quota) (?:exceeded|reached)|reached your daily (?:relay |sending )?quota|unexpected volume|throttl|too fast|slow down|\bspeeding\b|(?:connection|message) rate (?:limit|exceeded|too high)/i,
  ],
  [
    'blocklisted_reputation',
    /spamhaus|spamcop|\bsorbs\b|\bsurbl\b|\buribl\b|\bdnsbl\b|\brbl\b|block ?list(?:ed)?\b|black ?list(?:ed)?\b|blocked using|(?<!not )listed (?:at|on|in|by) |banned sending ip|(?:ip|domain|sender|sending) reputation|(?:poor|bad|low) reputation|user complaints|messages from \S+ weren't sent|\b(?:SC|DY)-00\d\b|\bAUP#\S*(?:RBL|BL)\b|invalid ip for sending|(?:your|sending|client|connecting) (?:ip|host|server)(?: address)? (?:\S+ )?(?:is |has been |was )?(?:blocked|banned|blacklisted|denied)|use the smtp server of your isp|client host (?:\[[^\]]*\] )?rejected/i,
  ],
  [
    'sender_rejected',
    /sender (?:address )?(?:rejected|refused|denied|not allowed|unknown|invalid|blocked)|(?:rejected|refused|denied) (?:the )?sender|unroutable sender|(?:invalid|bad|unknown|unverifiable|unroutable) sender|sender verif(?:y|ication) failed|sender (?:domain|address) (?:does not exist|not found|must (?:exist|resolve))|provide a valid from|from:? (?:header |address |domain )?(?:is )?(?:invalid|not valid)|mail ?from (?:address )?(?:rejected|refused|invalid)|identities failed the check/i,
  ],
  [
    'relaying_denied',
    /relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed)|prohibited|refused)|unable to relay|not (?:permitted|allowed) to relay|we do not relay|non-accepted domain/i,
  ],
  [
    'message_too_large',
    /message (?:is )?too (?:big|large)|(?:message|mail|e-?mail) size (?:limit )?exceed|exceeds? (?:the )?(?:maximum |max )?(?:message |mail )?size|mail size limit|message length exceeds|line (?:length )?limit exceeded|line too long/i,
  ],
  [
    'content_spam_virus',
    /\bspam\b|junk mail|unsolicited|\bvirus\b|malware|infected|phishing|content (?:rejected|filter|policy|blocked)|(?:rejected|blocked|refused) (?:as|due to|because of) (?:spam|its content|suspicious)|suspicious (?:content|link|url)|(?:banned|prohibited|blocked|disallowed) (?:attachment|file|url|link)|not (?:rfc ?)?(?:5322|2822|822)[- ]?compliant|not rfc[- ]?compliant|(?:does not|doesn't) (?:conform|comply) (?:to|with) (?:rfc|standards)|malformed (?:message|header|mime)|header error|duplicate header|missing (?:required )?(?:header|message-id|date header)|syntax error in (?:headers?|message)|malformed (?:recipient )?address/i,
  ],
  // --- the recipient's mailbox ------------------------------------------------------------------
  [
    'mailbox_full',
    /mail ?box (?:is |was )?(?:full|over ?quota)|(?:over|exceed(?:ed|s)?|reached) (?:the |their |his |her |its |a |allowed )?(?:(?:storage|disk|mailbox|mail) )?(?:quota|storage (?:limit|allocation)|allowed size)|quota ?(?:exceeded|full|reached)|mailbox (?:size )?limit exceeded|insufficient (?:system )?storage|(?:not enough|no) (?:disk )?space|number of messages in recipient's mailbox exceeded|recipient's mailbox is full|mailbox exceeds allowed size/i,
  ],
  [
    // Not "your account": a provider suspending our sending account is no recipient's mailbox.
    'mailbox_disabled',
    /(?<!(?:your|sender|sending) )(?:account|mail ?box|address|user)(?:\(s\))? (?:you tried to reach |that you tried to reach )?(?:has been |is |was )?(?:disabled|deactivated|suspended|inactive|discontinued|closed)|disabled (?:recipient|account|mailbox|user)|recipient account is (?:blocked|locked|suspended)|le compte du destinataire est bloqu|(?:mail ?box|address|user|recipient) has moved|moved permanently|no longer (?:active|in use|valid)/i,
  ],
  [
    'host_unknown',
    /host (?:or domain name )?(?:not found|unknown)|unknown host|domain (?:name )?(?:not found|does not exist|doesn't exist|unknown)|no such domain|(?:unknown|nonexistent|non-existent|unresolvable) domain|no mx (?:record|host)s?|null mx|unrouteable address|because the domain is not reachable|(?:host|domain) does not accept (?:e-?)?mail|\bnxdomain\b/i,
  ],
  [
    'user_unknown',
    /user unknown|unknown (?:user|recipient|mailbox|local[- ]?part|address)|no such (?:user|mailbox|recipient|address|account|person|local user)|(?:user|mail ?box|recipient|address|account|local part)(?: name)? (?:does not|doesn't|did not) exist|(?:e-?mail )?(?:account|address) (?:that )?you tried to reach does not exist|address (?:couldn't|could not|can't|cannot) be found|invalid (?:recipient|mailbox|user|e-?mail address|local part)|invalid user address|recipient (?:address )?(?:not found|unknown|invalid)|(?:mailbox|user|address) (?:not found|unknown)|address not found|not (?:a )?(?:valid|known) (?:user|recipient|mailbox)|no mailbox here|not listed in (?:the )?(?:domino )?directory|ディレクトリのリストにありません|recipient (?:name )?is not recognized|unknown or illegal alias|recipient address rejected: access denied|recipientnotfound|(?<![a-z] )address rejected(?!:)|(?:doesn't|does not) have an? \S+ account/i,
  ],
  [
    'filtered',
    /recipient preferences|only accepting mail from specific|(?:rejected|refused|blocked) by (?:the )?recipient|recipient (?:has )?(?:rejected|refused|blocked)|not (?:accepting|allowed to receive) (?:mail|messages) from|not (?:authorized|allowed|permitted) to send (?:mail |messages )?to (?:this|the) (?:group|recipient|list)|policy (?:rejection|violation)|greylist/i,
  ],
  // --- other failures on the way -----------------------------------------------------------------
  [
    'system_error',
    /system error|internal (?:server )?error|local (?:delivery|configuration) error|queue file write error|configuration error|lock failure|can't create user output file|error while writing|i\/o error|temporary local problem|mailer error|routing loop|mail loop|too many hops|loops? (?:back|detected)/i,
  ],
  [
    'network',
    /connection (?:timed out|refused|reset|lost|closed)|timed out|no route to host|network (?:error|is unreachable|unreachable)|(?:could not|unable to|failed to) connect|host unreachable|(?:temporary )?(?:dns|lookup) (?:failure|failed|error)|host name lookup failure|socket error|tls handshake|did not accept our requests to connect|not responding/i,
  ],
  // Last: it says only that retries stopped, so any cause above wins ("mailbox is full: retry timeout exceeded").
  [
    'expired',
    /retry time(?:out)? (?:exceeded|expired)|(?:been|too long) in the queue|in the queue too long|delivery time expired|message expired|could not be delivered within|expired after \d/i,
  ],
];

/** The reason the wording of a reply gives, or undefined when it names none. */
export function reasonFromWording(text: string): BounceReason | undefined {
  if (!text) return undefined;
  return WORDING.find(([, pattern]) => pattern.test(text))?.[0];
}

export type SmtpCommand = 'connect' | 'mail' | 'rcpt' | 'data';

// How MTAs say which command a reply answered: Postfix "(in reply to RCPT TO command)", Exim
// "SMTP error from remote mail server after MAIL FROM:", Sendmail and Courier transcripts
// ">>> DATA", qmail "does not like recipient" / "failed after I sent the message".
const COMMANDS: [SmtpCommand, RegExp][] = [
  [
    'connect',
    /after initial connection|in reply to (?:initial greeting|ehlo|helo)|refused to talk to me|but greeting failed/i,
  ],
  ['mail', /after mail from|in reply to mail from command|>>> mail from|but sender was rejected/i],
  ['rcpt', /after rcpt to|in reply to rcpt to command|>>> rcpt to|does not like recipient/i],
  ['data', /after (?:end of )?data|in reply to (?:end of )?data command|>>> data|failed after i sent the message/i],
];

// A pipelining Sendmail shows every reply after ">>> DATA"; a "503 need RCPT" among them says the
// refusal was the recipient's.
const PIPELINED_RCPT = /need rcpt|rcpt first|no valid recipients/i;

/** The SMTP command a reply answered, when the report says. */
export function smtpCommand(text: string): SmtpCommand | undefined {
  if (PIPELINED_RCPT.test(text)) return 'rcpt';
  let found: { command: SmtpCommand; at: number } | undefined;
  for (const [command, pattern] of COMMANDS) {
    const at = text.search(pattern);
    if (at >= 0 && (!found || at < found.at)) found = { command, at };
  }
  return found?.command;
}
