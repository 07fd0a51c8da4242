// Templates for every channel: compiled once when saved, rendered per message.

export { type TemplateField, TemplateSyntaxError, type TemplateSyntaxIssue } from '../errors.ts';
export {
  type CompanyVars,
  type CompiledEmailContent,
  type CompiledEmailTemplate,
  type CompiledLink,
  type ContactVars,
  compileEmailTemplate,
  type EmailContentInput,
  type EmailTemplateInput,
  type EmailTracking,
  insertPreheader,
  type RenderEmailOptions,
  type RenderedEmail,
  type RenderVars,
  renderEmail,
  resolveLink,
  textFromHtml,
} from './email.ts';
export { KNOWN_HELPERS } from './handlebars.ts';
export {
  addUtm,
  decodeEntities,
  insertOpenPixel,
  NO_TRACK_ATTRIBUTE,
  type RewriteLinksOptions,
  type RewrittenHtml,
  rewriteLinks,
  type UtmValues,
} from './links.ts';
export { canonicalLocale, localeFallbacks, selectLocale } from './locale.ts';
export { checkMjmlStructure } from './mjml.ts';
export {
  type CompiledPushTemplate,
  compilePushTemplate,
  type PushTemplateInput,
  type RenderedPush,
  renderPush,
} from './push.ts';
export {
  type CompiledSmsTemplate,
  compileSmsTemplate,
  type RenderedSms,
  renderSms,
  type SmsEncoding,
  type SmsSegments,
  smsSegments,
} from './sms.ts';
export {
  type CompiledWebhookTemplate,
  compileWebhookTemplate,
  type JsonTemplateNode,
  type RenderedWebhook,
  renderWebhook,
  type WebhookMethod,
  type WebhookTemplateInput,
} from './webhook.ts';
