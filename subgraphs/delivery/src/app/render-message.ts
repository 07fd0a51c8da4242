// Turns a claimed message into what a provider sends: the template rendered from its compiled
// form for the contact and the send's context, links rewritten to signed click URLs, the open
// pixel, and for marketing email the RFC 8058 unsubscribe headers.
import type { contacts, messages, templates } from '../db/schema.ts';
import {
  type CompiledEmailTemplate,
  type CompiledPushTemplate,
  type CompiledSmsTemplate,
  type CompiledWebhookTemplate,
  type RenderVars,
  renderEmail,
  renderPush,
  renderSms,
  renderWebhook,
} from '../domain/templates/index.ts';
import type { OutboundMessage } from '../providers/index.ts';
import { listUnsubscribeHeaders, type TrackingKind, trackingTokens } from '../tracking/index.ts';

type MessageRow = typeof messages.$inferSelect;
type TemplateRow = Pick<typeof templates.$inferSelect, 'id' | 'channel' | 'compiled'>;
export type ContactForRender = Pick<
  typeof contacts.$inferSelect,
  'id' | 'email' | 'phone' | 'firstName' | 'lastName' | 'locale' | 'timezone' | 'fields'
>;

export interface Sender {
  name: string | null;
  address: string;
}

export interface MessageRenderer {
  render(
    row: MessageRow,
    template: TemplateRow,
    contact: ContactForRender | null,
    marketing: boolean,
    sender: Sender,
  ): OutboundMessage;
}

export class RenderError extends Error {
  override name = 'RenderError';
}

export const renderFailure = (error: unknown) => `render_error: ${(error as Error).message}`.slice(0, 1000);

export function contactVars(contact: ContactForRender): RenderVars['contact'] {
  return {
    id: contact.id,
    email: contact.email,
    phone: contact.phone,
    firstName: contact.firstName,
    lastName: contact.lastName,
    locale: contact.locale,
    timezone: contact.timezone,
    fields: contact.fields,
  };
}

export function createRenderer(options: { trackingKey: Buffer; publicBaseUrl: string }): MessageRenderer {
  const base = options.publicBaseUrl.replace(/\/+$/, '');
  const tokens = trackingTokens(options.trackingKey);
  const token = (k: TrackingKind, row: MessageRow) => tokens.sign({ k, m: row.id, o: row.organizationId });

  return {
    render(row, template, contact, marketing, sender) {
      const unsubscribeToken = token('u', row);
      const unsubscribeUrl = `${base}/t/unsubscribe?t=${unsubscribeToken}`;
      const vars: RenderVars = {
        contact: contact ? contactVars(contact) : { email: row.address, fields: {} },
        context: row.context,
        message: { id: row.id },
        unsubscribeUrl,
        preferencesUrl: `${base}/t/preferences?t=${unsubscribeToken}`,
      };
      switch (row.channel) {
        case 'email': {
          const compiled = template.compiled as unknown as CompiledEmailTemplate & {
            fromName?: string | null;
            fromAddress?: string | null;
            replyTo?: string | null;
          };
          // One signed click token serves every link of the message, the link's index beside
          // it: an index only picks among this message's own links, which its reader already
          // has, so signing each (an HMAC per link) bought nothing and cost a fifth of a render.
          let clickToken: string | undefined;
          const clickUrl = (index: number) => {
            clickToken ??= token('c', row);
            return `${base}/t/click?t=${clickToken}&l=${index}`;
          };
          const rendered = renderEmail(compiled, vars, {
            tracking: {
              clickUrl,
              openPixelUrl: `${base}/t/open?t=${token('o', row)}`,
            },
          });
          const headers: Record<string, string> = { 'X-Mauntic-Message': row.id };
          if (marketing) Object.assign(headers, listUnsubscribeHeaders(unsubscribeUrl));
          return {
            channel: 'email',
            messageId: row.id,
            from: {
              ...((compiled.fromName ?? sender.name) ? { name: (compiled.fromName ?? sender.name)! } : {}),
              address: compiled.fromAddress ?? sender.address,
            },
            ...(compiled.replyTo ? { replyTo: compiled.replyTo } : {}),
            to: row.address,
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            headers,
          };
        }
        case 'sms': {
          const rendered = renderSms(template.compiled as unknown as CompiledSmsTemplate, vars);
          return { channel: 'sms', messageId: row.id, to: row.address, body: rendered.body };
        }
        case 'push': {
          const rendered = renderPush(template.compiled as unknown as CompiledPushTemplate, vars);
          return {
            channel: 'push',
            messageId: row.id,
            token: row.address,
            title: rendered.title,
            body: rendered.body,
            data: { ...rendered.data, messageId: row.id },
            ...(rendered.imageUrl ? { imageUrl: rendered.imageUrl } : {}),
          };
        }
        case 'webhook': {
          const rendered = renderWebhook(template.compiled as unknown as CompiledWebhookTemplate, vars);
          if (!rendered.ok) throw new RenderError(rendered.error.message);
          return {
            channel: 'webhook',
            messageId: row.id,
            method: rendered.value.method,
            url: rendered.value.url,
            headers: rendered.value.headers,
            ...(rendered.value.body !== null ? { body: rendered.value.body } : {}),
          };
        }
        default:
          throw new RenderError(`unknown channel ${row.channel}`);
      }
    },
  };
}
