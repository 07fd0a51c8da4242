// Every adapter against a local server speaking its provider's documented wire format.
import { createVerify, generateKeyPairSync } from 'node:crypto';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createFcmProvider,
  createLocalOutboxProvider,
  createMailgunProvider,
  createPlivoProvider,
  createProvider,
  createSendgridProvider,
  createSesProvider,
  createSmtpProvider,
  createTwilioProvider,
  createWebhookProvider,
  type EmailMessage,
  type OutboundMessage,
  type Provider,
  ProviderError,
  type PushMessage,
  parseProviderConfig,
  SIGNATURE_HEADER,
  type SmsMessage,
  secretFields,
  signWebhook,
  withFailover,
} from '../src/providers/index.ts';
import {
  fcmError,
  fcmSent,
  type HttpFake,
  mailgunQueued,
  oauthToken,
  plivoQueued,
  sendgridAccepted,
  sendgridError,
  sesError,
  sesSent,
  startHttpFake,
  twilioError,
  twilioMessage,
} from './fakes/http-fake.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';

let counter = 0;
function email(overrides: Partial<EmailMessage> = {}): EmailMessage {
  counter += 1;
  return {
    messageId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    from: { name: 'Acme News', address: 'news@acme.example' },
    replyTo: 'help@acme.example',
    to: `reader${counter}@example.org`,
    subject: `Issue ${counter}: ünïcode ✓`,
    html: '<p>Hello <b>reader</b></p>',
    text: 'Hello reader',
    headers: {
      'List-Unsubscribe': '<https://t.acme.example/u/abc>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
    ...overrides,
  };
}

function sms(overrides: Partial<SmsMessage> = {}): SmsMessage {
  return {
    messageId: 'sms-1',
    to: '+15005550006',
    body: 'Your code is 1234',
    statusCallbackUrl: 'https://t.acme.example/twilio/status',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

function basicAuth(user: string, pass: string): string {
  return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const fake = await startHttpFake();
  const port = Number(new URL(fake.url).port);
  await fake.close();
  return port;
}

describe('smtp', () => {
  let server: SmtpFake;
  let provider: Provider<EmailMessage>;

  beforeAll(async () => {
    server = await startSmtpFake({ user: 'relay-user', pass: 'relay-pass' });
    provider = createSmtpProvider({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      user: 'relay-user',
      pass: 'relay-pass',
      maxConnections: 1,
    });
  });
  afterAll(async () => {
    await provider.close();
    await server.close();
  });
  beforeEach(() => server.reset());

  it('sends composed messages with our headers over one pooled, authenticated connection', async () => {
    const before = server.connections();
    const messages = [email(), email({ envelopeFrom: 'bounce+abc@bounces.acme.example' }), email()];
    const results = await Promise.all(messages.map((m) => provider.send(m)));

    expect(server.messages).toHaveLength(3);
    expect(server.connections() - before).toBe(1);
    expect(results.map((r) => r.providerMessageId).sort()).toEqual(['Q1', 'Q2', 'Q3']);
    const second = server.messages.find((m) => m.rcptTo[0] === messages[1]!.to)!;
    expect(second.mailFrom).toBe('bounce+abc@bounces.acme.example');
    expect(second.user).toBe('relay-user');

    const raw = server.messages.find((m) => m.rcptTo[0] === messages[0]!.to)!.raw;
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(messages[0]!.subject);
    expect(parsed.from?.value[0]).toMatchObject({ name: 'Acme News', address: 'news@acme.example' });
    expect(parsed.messageId).toBe(`<${messages[0]!.messageId}@acme.example>`);
    expect(raw.toString()).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    expect(raw.toString()).toMatch(/^List-Unsubscribe: <https:\/\/t\.acme\.example\/u\/abc>\r$/m);
    expect(parsed.text?.trim()).toBe('Hello reader');
    expect(parsed.html).toContain('<b>reader</b>');
    expect(parsed.replyTo?.value[0]?.address).toBe('help@acme.example');
  });

  it('sends a pre-built MIME message as is', async () => {
    const raw = Buffer.from(
      'From: news@acme.example\r\nTo: raw@example.org\r\nSubject: raw\r\nX-Built-By: engine\r\n\r\nbody line\r\n',
    );
    await provider.send(email({ to: 'raw@example.org', raw }));
    expect(server.messages[0]!.rcptTo).toEqual(['raw@example.org']);
    expect(server.messages[0]!.raw.toString()).toBe(raw.toString());
  });

  it('maps a 4xx reply to a retryable error and a 5xx reply to a permanent one', async () => {
    server.rejectRecipients(451, 1);
    const transient = await rejection(provider.send(email()));
    expect(transient).toMatchObject({ retryable: true, code: 'smtp_451' });

    server.rejectRecipients(550, 1);
    const permanent = await rejection(provider.send(email()));
    expect(permanent).toMatchObject({ retryable: false, code: 'smtp_550' });

    await provider.send(email());
    expect(server.messages).toHaveLength(1);
  });

  it('retries a 421 that closes the connection on a fresh one, and gives up retryably if it persists', async () => {
    server.rejectRecipients(421, 1);
    await provider.send(email({ to: 'after-421@example.org' }));
    expect(server.messages.map((m) => m.rcptTo)).toEqual([['after-421@example.org']]);

    server.rejectRecipients(421);
    expect(await rejection(provider.send(email()))).toMatchObject({ retryable: true, code: 'smtp_421' });
    expect(server.messages).toHaveLength(1);
  });

  it('treats a refused connection as retryable and bad credentials as an account fault', async () => {
    const refused = createSmtpProvider({ host: '127.0.0.1', port: await closedPort(), secure: false });
    expect(await rejection(refused.send(email()))).toMatchObject({ retryable: true, code: 'network' });
    await refused.close();

    const wrongPassword = createSmtpProvider({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      user: 'relay-user',
      pass: 'nope',
    });
    expect(await rejection(wrongPassword.send(email()))).toMatchObject({ retryable: true, code: 'auth_failed' });
    await wrongPassword.close();
    expect(server.messages).toHaveLength(0);
  });
});

describe('local outbox', () => {
  it('stores each message through the injected store and reports its id', async () => {
    const stored: EmailMessage[] = [];
    const provider = createLocalOutboxProvider(async (m) => {
      stored.push(m);
    });
    const message = email();
    expect(await provider.send(message)).toEqual({ providerMessageId: message.messageId });
    expect(stored).toEqual([message]);
  });

  it('reports a failing store as retryable', async () => {
    const provider = createLocalOutboxProvider(async () => {
      throw new Error('disk full');
    });
    expect(await rejection(provider.send(email()))).toMatchObject({ retryable: true, code: 'outbox_unavailable' });
  });
});

describe('http providers', () => {
  let fake: HttpFake;
  beforeAll(async () => {
    fake = await startHttpFake();
    fake.route('POST', /^\/v2\/email\/outbound-emails$/, sesSent);
    fake.route('POST', /^\/v3\/mail\/send$/, sendgridAccepted);
    fake.route('POST', /^\/v3\/[^/]+\/messages(\.mime)?$/, mailgunQueued);
    fake.route('POST', /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/, twilioMessage);
    fake.route('POST', /^\/v1\/Account\/[^/]+\/Message\/$/, plivoQueued);
    fake.route('POST', /^\/token$/, oauthToken);
    fake.route('POST', /^\/v1\/projects\/[^/]+\/messages:send$/, fcmSent);
    fake.route('POST', /^\/hooks\//, () => ({ status: 204 }));
    fake.route('PUT', /^\/hooks\//, () => ({ status: 200, headers: { 'X-Request-Id': 'req-7' } }));
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  describe('ses', () => {
    const ses = () =>
      createSesProvider({
        region: 'eu-west-1',
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        endpoint: fake.url,
        configurationSet: 'mauntic-events',
      });

    it('sends raw MIME with SendEmail, signed with SigV4', async () => {
      const message = email();
      const result = await ses().send(message);
      expect(result.providerMessageId).toBe('0100018c-ses-message-id');

      const request = fake.requests[0]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v2/email/outbound-emails');
      expect(request.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ses\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
      );
      const body = request.json();
      expect(body.FromEmailAddress).toBe('news@acme.example');
      expect(body.Destination).toEqual({ ToAddresses: [message.to] });
      expect(body.ConfigurationSetName).toBe('mauntic-events');
      expect(body.EmailTags).toEqual([{ Name: 'mauntic_message_id', Value: message.messageId }]);
      const raw = Buffer.from(body.Content.Raw.Data, 'base64');
      const mime = await simpleParser(raw);
      expect(mime.subject).toBe(message.subject);
      expect(raw.toString()).toMatch(/^List-Unsubscribe: <https:\/\/t\.acme\.example\/u\/abc>\r$/m);
      expect(mime.messageId).toBe(`<${message.messageId}@acme.example>`);
    });

    it('maps MessageRejected to permanent and throttling or 5xx to retryable', async () => {
      fake.failNext(/outbound-emails/, sesError(400, 'MessageRejected', 'Email address is not verified.'));
      expect(await rejection(ses().send(email()))).toMatchObject({ retryable: false, code: 'MessageRejected' });
      fake.failNext(/outbound-emails/, sesError(429, 'TooManyRequestsException', 'Too many requests'));
      expect(await rejection(ses().send(email()))).toMatchObject({ retryable: true });
      fake.failNext(/outbound-emails/, sesError(503, 'ServiceUnavailable', 'try later'));
      expect(await rejection(ses().send(email()))).toMatchObject({ retryable: true });
      expect(fake.requests).toHaveLength(3);
    });
  });

  describe('sendgrid', () => {
    const sendgrid = () => createSendgridProvider({ apiKey: 'SG.test-key', baseUrl: fake.url });

    it('posts the v3 mail/send JSON with the bearer key and returns X-Message-Id', async () => {
      const message = email();
      expect(await sendgrid().send(message)).toEqual({ providerMessageId: 'sg-message-id-1' });
      const request = fake.requests[0]!;
      expect(request.path).toBe('/v3/mail/send');
      expect(request.headers.authorization).toBe('Bearer SG.test-key');
      const body = request.json();
      expect(body.personalizations[0].to).toEqual([{ email: message.to }]);
      expect(body.from).toEqual({ email: 'news@acme.example', name: 'Acme News' });
      expect(body.reply_to).toEqual({ email: 'help@acme.example' });
      expect(body.subject).toBe(message.subject);
      expect(body.content).toEqual([
        { type: 'text/plain', value: 'Hello reader' },
        { type: 'text/html', value: '<p>Hello <b>reader</b></p>' },
      ]);
      expect(body.headers['List-Unsubscribe']).toBe('<https://t.acme.example/u/abc>');
      expect(body.custom_args).toEqual({ mauntic_message_id: message.messageId });
    });

    it('maps 400 to permanent, 429 and 5xx to retryable, 401 to an account fault', async () => {
      fake.failNext(/mail\/send/, sendgridError(400, 'The to email does not contain a valid address.'));
      expect(await rejection(sendgrid().send(email()))).toMatchObject({ retryable: false, code: 'http_400' });
      fake.failNext(/mail\/send/, sendgridError(429, 'too many requests'));
      expect(await rejection(sendgrid().send(email()))).toMatchObject({ retryable: true, code: 'http_429' });
      fake.failNext(/mail\/send/, sendgridError(502, 'bad gateway'));
      expect(await rejection(sendgrid().send(email()))).toMatchObject({ retryable: true, code: 'http_502' });
      fake.failNext(/mail\/send/, sendgridError(401, 'The provided authorization grant is invalid'));
      expect(await rejection(sendgrid().send(email()))).toMatchObject({ retryable: true, code: 'auth_failed' });
    });
  });

  describe('mailgun', () => {
    const mailgun = (url = fake.url) => createMailgunProvider({ domain: 'mg.acme.example', apiKey: 'key-123', url });

    it('posts the message fields as multipart form data with basic auth', async () => {
      const message = email();
      const result = await mailgun().send(message);
      expect(result.providerMessageId).toBe('<20240101000000.1.ABCDEF@example.org>');
      const request = fake.requests[0]!;
      expect(request.path).toBe('/v3/mg.acme.example/messages');
      expect(request.headers.authorization).toBe(basicAuth('api', 'key-123'));
      const fields = request.multipart();
      expect(fields.get('from')).toEqual(['"Acme News" <news@acme.example>']);
      expect(fields.get('to')).toEqual([message.to]);
      expect(fields.get('subject')).toEqual([message.subject]);
      expect(fields.get('text')).toEqual(['Hello reader']);
      expect(fields.get('html')).toEqual(['<p>Hello <b>reader</b></p>']);
      expect(fields.get('h:List-Unsubscribe-Post')).toEqual(['List-Unsubscribe=One-Click']);
      expect(fields.get('h:Reply-To')).toEqual(['help@acme.example']);
      expect(fields.get('v:mauntic-message-id')).toEqual([message.messageId]);
    });

    it('posts pre-built MIME to messages.mime', async () => {
      const raw = Buffer.from('From: news@acme.example\r\nTo: r@example.org\r\nSubject: raw\r\n\r\nhi\r\n');
      await mailgun().send(email({ to: 'r@example.org', raw }));
      const request = fake.requests[0]!;
      expect(request.path).toBe('/v3/mg.acme.example/messages.mime');
      expect(request.multipart().get('to')).toEqual(['r@example.org']);
      expect(request.multipart().get('message')).toEqual([raw.toString()]);
    });

    it('maps 400 to permanent, 5xx and a refused connection to retryable', async () => {
      fake.failNext(/messages/, { status: 400, body: { message: "'to' parameter is not a valid address" } });
      expect(await rejection(mailgun().send(email()))).toMatchObject({ retryable: false, code: 'http_400' });
      fake.failNext(/messages/, { status: 503, body: { message: 'unavailable' } });
      expect(await rejection(mailgun().send(email()))).toMatchObject({ retryable: true, code: 'http_503' });
      const down = mailgun(`http://127.0.0.1:${await closedPort()}`);
      expect(await rejection(down.send(email()))).toMatchObject({ retryable: true, code: 'network' });
    });
  });

  describe('twilio', () => {
    const twilio = (options: { messagingServiceSid?: string } = {}) =>
      createTwilioProvider({
        accountSid: 'AC0123456789abcdef0123456789abcdef',
        authToken: 'twilio-token',
        from: '+15005550001',
        baseUrl: fake.url,
        ...options,
      });

    it('creates a Message resource with the documented form fields', async () => {
      const result = await twilio().send(sms());
      expect(result.providerMessageId).toMatch(/^SM/);
      const request = fake.requests[0]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json');
      expect(request.headers.authorization).toBe(basicAuth('AC0123456789abcdef0123456789abcdef', 'twilio-token'));
      expect(request.headers['content-type']).toContain('application/x-www-form-urlencoded');
      const form = request.form();
      expect(form.get('To')).toBe('+15005550006');
      expect(form.get('From')).toBe('+15005550001');
      expect(form.get('Body')).toBe('Your code is 1234');
      expect(form.get('StatusCallback')).toBe('https://t.acme.example/twilio/status');
    });

    it('sends through the messaging service when one is configured and the message names no sender', async () => {
      await twilio({ messagingServiceSid: 'MG0123' }).send(sms());
      const form = fake.requests[0]!.form();
      expect(form.get('MessagingServiceSid')).toBe('MG0123');
      expect(form.has('From')).toBe(false);
      await twilio({ messagingServiceSid: 'MG0123' }).send(sms({ from: 'ACME' }));
      expect(fake.requests[1]!.form().get('From')).toBe('ACME');
    });

    it('maps an invalid number to permanent and 429/5xx to retryable', async () => {
      fake.failNext(/Messages\.json/, twilioError(400, 21211, "The 'To' number is not a valid phone number."));
      expect(await rejection(twilio().send(sms()))).toMatchObject({ retryable: false, code: 'twilio_21211' });
      fake.failNext(/Messages\.json/, twilioError(429, 20429, 'Too Many Requests'));
      expect(await rejection(twilio().send(sms()))).toMatchObject({ retryable: true });
      fake.failNext(/Messages\.json/, twilioError(503, 20503, 'Service unavailable'));
      expect(await rejection(twilio().send(sms()))).toMatchObject({ retryable: true });
    });
  });

  describe('plivo', () => {
    const plivo = () =>
      createPlivoProvider({
        authId: 'MAZDQ1ZDLKYZJINTY3ND',
        authToken: 'plivo-token',
        from: '14155550100',
        baseUrl: fake.url,
      });

    it('posts the Message JSON with basic auth and returns the message uuid', async () => {
      const result = await plivo().send(sms());
      expect(result.providerMessageId).toBe('db3ce55a-7f1d-11e1-8ea7-1231380bc196');
      const request = fake.requests[0]!;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v1/Account/MAZDQ1ZDLKYZJINTY3ND/Message/');
      expect(request.headers.authorization).toBe(basicAuth('MAZDQ1ZDLKYZJINTY3ND', 'plivo-token'));
      expect(request.json()).toMatchObject({
        src: '14155550100',
        dst: '+15005550006',
        text: 'Your code is 1234',
        url: 'https://t.acme.example/twilio/status',
        method: 'POST',
      });
    });

    it('maps 400 to permanent and 500/503 to retryable', async () => {
      fake.failNext(/Message/, { status: 400, body: { api_id: 'x', error: 'invalid dst' } });
      expect(await rejection(plivo().send(sms()))).toMatchObject({ retryable: false, code: 'http_400' });
      fake.failNext(/Message/, { status: 500, body: { api_id: 'x', error: 'internal' } });
      expect(await rejection(plivo().send(sms()))).toMatchObject({ retryable: true, code: 'http_500' });
      fake.failNext(/Message/, { status: 503, body: { api_id: 'x', error: 'unavailable' } });
      expect(await rejection(plivo().send(sms()))).toMatchObject({ retryable: true, code: 'http_503' });
    });
  });

  describe('fcm', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const push: PushMessage = {
      messageId: 'push-1',
      token: 'device-token-abc',
      title: 'Sale',
      body: '50% off today',
      data: { campaign: 'spring' },
      imageUrl: 'https://cdn.acme.example/sale.png',
    };
    const fcm = () =>
      createFcmProvider({
        projectId: 'acme-app',
        clientEmail: 'fcm@acme-app.iam.gserviceaccount.com',
        privateKey: pem,
        endpoint: fake.url,
      });

    it('gets a token with a signed JWT bearer grant once, then posts messages:send with it', async () => {
      const provider = fcm();
      const result = await provider.send(push);
      await provider.send(push);
      await provider.close();
      expect(result.providerMessageId).toMatch(/^projects\/acme-app\/messages\//);

      const tokenRequests = fake.requests.filter((r) => r.path === '/token');
      expect(tokenRequests).toHaveLength(1);
      const form = tokenRequests[0]!.form();
      expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
      const [header, claims, signature] = form.get('assertion')!.split('.') as [string, string, string];
      expect(createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, signature, 'base64url')).toBe(
        true,
      );
      expect(JSON.parse(Buffer.from(claims, 'base64url').toString())).toMatchObject({
        iss: 'fcm@acme-app.iam.gserviceaccount.com',
        aud: 'https://oauth2.googleapis.com/token',
        scope: 'https://www.googleapis.com/auth/firebase.messaging',
      });

      const sends = fake.requests.filter((r) => r.path.endsWith('messages:send'));
      expect(sends).toHaveLength(2);
      expect(sends[0]!.path).toBe('/v1/projects/acme-app/messages:send');
      expect(sends[0]!.headers.authorization).toBe('Bearer ya29.fake-access-token');
      expect(sends[0]!.headers.host).toBe('fcm.googleapis.com');
      expect(sends[0]!.json()).toEqual({
        message: {
          token: 'device-token-abc',
          notification: { title: 'Sale', body: '50% off today', image: 'https://cdn.acme.example/sale.png' },
          data: { campaign: 'spring', mauntic_message_id: 'push-1' },
        },
      });
    });

    it('maps UNREGISTERED to permanent and INTERNAL or QUOTA_EXCEEDED to retryable; a 503 is retried at once', async () => {
      const provider = fcm();
      fake.failNext(/messages:send/, fcmError(404, 'NOT_FOUND', 'UNREGISTERED'));
      expect(await rejection(provider.send(push))).toMatchObject({ retryable: false, code: 'unregistered' });
      fake.failNext(/messages:send/, fcmError(500, 'INTERNAL', 'INTERNAL'));
      expect(await rejection(provider.send(push))).toMatchObject({ retryable: true });
      // firebase-admin retries a 503 itself before giving up.
      const before = fake.requests.filter((r) => r.path.endsWith('messages:send')).length;
      fake.failNext(/messages:send/, fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE'));
      expect((await provider.send(push)).providerMessageId).toMatch(/^projects\/acme-app\/messages\//);
      expect(fake.requests.filter((r) => r.path.endsWith('messages:send')).length - before).toBe(2);
      fake.failNext(/messages:send/, fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'));
      expect(await rejection(provider.send(push))).toMatchObject({ retryable: true });
      fake.failNext(/messages:send/, fcmError(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH'));
      expect(await rejection(provider.send(push))).toMatchObject({ retryable: false, code: 'sender_id_mismatch' });
      await provider.close();
    });

    it('treats a refused token grant as an account fault that a failover provider may take', async () => {
      const provider = fcm();
      fake.failNext(/\/token$/, { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT' } });
      expect(await rejection(provider.send(push))).toMatchObject({ retryable: true, code: 'auth_failed' });
      // The grant reached our token endpoint and was refused there; nothing was sent.
      expect(fake.requests.filter((r) => r.path === '/token').length).toBeGreaterThan(0);
      expect(fake.requests.filter((r) => r.path.endsWith('messages:send'))).toHaveLength(0);
      await provider.close();
    });
  });

  describe('webhook', () => {
    it('sends the request with its headers and a verifiable signature', async () => {
      const provider = createWebhookProvider({ url: fake.url, secret: 'whsec' });
      const body = JSON.stringify({ event: 'signup', email: 'a@example.org' });
      const result = await provider.send({
        messageId: 'wh-1',
        method: 'PUT',
        url: '/hooks/crm?x=1',
        headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes' },
        body,
      });
      expect(result.providerMessageId).toBe('req-7');
      const request = fake.requests[0]!;
      expect(request.method).toBe('PUT');
      expect(request.path).toBe('/hooks/crm');
      expect(request.query.get('x')).toBe('1');
      expect(request.headers['x-custom']).toBe('yes');
      expect(request.headers['x-mauntic-message-id']).toBe('wh-1');
      expect(request.text()).toBe(body);
      const signature = String(request.headers[SIGNATURE_HEADER.toLowerCase()]);
      const timestamp = Number(/t=(\d+)/.exec(signature)![1]);
      expect(signature).toBe(signWebhook('whsec', timestamp, body));
      expect(signature).not.toBe(signWebhook('other', timestamp, body));
    });

    it('treats 429, 5xx and timeouts as retryable and other 4xx as permanent', async () => {
      const provider = createWebhookProvider({ url: fake.url, timeoutMs: 300 });
      const hook = { messageId: 'wh-2', method: 'POST' as const, url: '/hooks/x', headers: {}, body: '{}' };
      await provider.send(hook);
      for (const [status, retryable] of [
        [500, true],
        [503, true],
        [429, true],
        [404, false],
        [400, false],
        [401, false],
      ] as const) {
        fake.failNext(/hooks/, { status, body: 'no' });
        expect(await rejection(provider.send(hook)), `HTTP ${status}`).toMatchObject({ retryable });
      }
      fake.failNext(/hooks/, { status: 200, delayMs: 1_000 });
      expect(await rejection(provider.send(hook))).toMatchObject({ retryable: true, code: 'timeout' });
    });
  });
});

describe('registry', () => {
  it('splits a submitted configuration into public settings and secrets', () => {
    expect(secretFields('smtp')).toEqual(['pass']);
    expect(secretFields('twilio')).toEqual(['authToken']);
    expect(secretFields('fcm')).toEqual(['privateKey']);
    const parsed = parseProviderConfig('ses', {
      region: 'eu-west-1',
      accessKeyId: 'AKID',
      secretAccessKey: 'shh',
      endpoint: 'https://email.eu-west-1.amazonaws.com',
    });
    expect(parsed).toEqual({
      ok: true,
      settings: { region: 'eu-west-1', accessKeyId: 'AKID', endpoint: 'https://email.eu-west-1.amazonaws.com' },
      secrets: { secretAccessKey: 'shh' },
    });
  });

  it('reports every problem of an invalid configuration at once', () => {
    const parsed = parseProviderConfig('twilio', { accountSid: '', baseUrl: 'ftp://x' });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.type).toBe('invalid_provider_config');
    expect(parsed.error.issues.map((i) => i.path).sort()).toEqual(['accountSid', 'authToken', 'baseUrl']);
  });

  it('builds a working provider from stored settings and secrets, and refuses other channels', async () => {
    const server = await startSmtpFake({ user: 'u', pass: 'p' });
    const provider = createProvider('smtp', { host: '127.0.0.1', port: server.port, user: 'u' }, { pass: 'p' });
    try {
      await provider.send({ channel: 'email', ...email({ to: 'registry@example.org' }) });
      expect(server.messages.map((m) => m.rcptTo)).toEqual([['registry@example.org']]);
      const wrong: OutboundMessage = { channel: 'sms', ...sms() };
      expect(await rejection(provider.send(wrong))).toMatchObject({ retryable: false, code: 'wrong_channel' });
    } finally {
      await provider.close();
      await server.close();
    }
  });
});

describe('failover', () => {
  let primary: SmtpFake;
  let secondary: HttpFake;
  let provider: Provider<EmailMessage>;

  beforeAll(async () => {
    primary = await startSmtpFake();
    secondary = await startHttpFake();
    secondary.route('POST', /^\/v3\/mail\/send$/, sendgridAccepted);
    provider = withFailover(
      createSmtpProvider({ host: '127.0.0.1', port: primary.port, secure: false }),
      createSendgridProvider({ apiKey: 'SG.backup', baseUrl: secondary.url }),
    );
  });
  afterAll(async () => {
    await provider.close();
    await primary.close();
    await secondary.close();
  });
  beforeEach(() => {
    primary.reset();
    secondary.reset();
  });

  it('sends through the primary while it works', async () => {
    const events: string[] = [];
    const result = await provider.send(email(), { onHandedOver: () => events.push('handed over') });
    events.push('sent');
    expect(events).toEqual(['handed over', 'sent']);
    expect(result.failedOver).toBeUndefined();
    expect(primary.messages).toHaveLength(1);
    expect(secondary.requests).toHaveLength(0);
  });

  it('sends through the secondary when the primary keeps answering 421', async () => {
    primary.rejectRecipients(421);
    const message = email();
    let handedOver = 0;
    const result = await provider.send(message, { onHandedOver: () => (handedOver += 1) });
    expect(handedOver).toBe(1);
    expect(result).toEqual({ providerMessageId: 'sg-message-id-1', failedOver: true });
    expect(primary.messages).toHaveLength(0);
    expect(secondary.requests).toHaveLength(1);
    expect(secondary.requests[0]!.json().personalizations[0].to[0].email).toBe(message.to);
  });

  it('does not fail over a permanent 550 rejection', async () => {
    primary.rejectRecipients(550, 1);
    expect(await rejection(provider.send(email()))).toMatchObject({ retryable: false, code: 'smtp_550' });
    expect(secondary.requests).toHaveLength(0);
  });

  it('fails over an HTTP 5xx of an API primary to an SMTP secondary', async () => {
    const api = await startHttpFake();
    api.route('POST', /^\/v3\/mail\/send$/, () => sendgridError(503, 'unavailable'));
    const reversed = withFailover(
      createSendgridProvider({ apiKey: 'SG.primary', baseUrl: api.url }),
      createSmtpProvider({ host: '127.0.0.1', port: primary.port, secure: false }),
    );
    try {
      const result = await reversed.send(email({ to: 'fallback@example.org' }));
      expect(result.failedOver).toBe(true);
      expect(api.requests).toHaveLength(1);
      expect(primary.messages.map((m) => m.rcptTo)).toEqual([['fallback@example.org']]);
    } finally {
      await reversed.close();
      await api.close();
    }
  });

  it('reports a retryable error when both providers fail transiently', async () => {
    primary.rejectRecipients(451, 1);
    secondary.failNext(/mail\/send/, sendgridError(500, 'down'));
    const error = await rejection(provider.send(email()));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('smtp');
    expect(error.message).toContain('sendgrid');
  });
});
