// The expected failures: the shared ones (scalars and the Error interface come with them) and
// delivery's own, as mutation payloads show them.
import { addCommonTypes } from '@mauntic/platform';
import {
  IdempotencyConflictError,
  IpPoolNameTakenError,
  ProviderNameTakenError,
  SendingDomainTakenError,
  SendingIpNotAllowedError,
  SendingIpTakenError,
  TemplateNameTakenError,
  TemplateSyntaxError,
  type TemplateSyntaxIssue,
  UnverifiedSendingDomainError,
} from '../../domain/errors.ts';
import { builder } from '../builder.ts';

const { ErrorInterface } = addCommonTypes(builder);

builder.objectType(IdempotencyConflictError, {
  name: 'IdempotencyKeyReusedError',
  interfaces: [ErrorInterface],
  description: 'The idempotency key was used before for a different recipient or template.',
  fields: (t) => ({ idempotencyKey: t.exposeString('idempotencyKey') }),
});

builder.objectType(TemplateNameTakenError, {
  name: 'TemplateNameTakenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ name: t.exposeString('takenName') }),
});

builder.objectType(ProviderNameTakenError, {
  name: 'ProviderNameTakenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ name: t.exposeString('takenName') }),
});

const SyntaxIssue = builder.objectRef<TemplateSyntaxIssue>('TemplateSyntaxIssue').implement({
  fields: (t) => ({
    field: t.exposeString('field', { description: 'mjml, html, subject, text, body, url...' }),
    locale: t.exposeString('locale', { nullable: true }),
    line: t.exposeInt('line', { description: '1-based, within the field' }),
    column: t.exposeInt('column', { description: '1-based' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(TemplateSyntaxError, {
  name: 'TemplateSyntaxError',
  description: 'The template does not compile; nothing was saved.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    field: t.exposeString('field'),
    locale: t.exposeString('locale', { nullable: true }),
    line: t.exposeInt('line'),
    column: t.exposeInt('column'),
    issues: t.field({ type: [SyntaxIssue], resolve: (e) => e.issues }),
  }),
});

builder.objectType(SendingDomainTakenError, {
  name: 'SendingDomainTakenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ domain: t.exposeString('domain') }),
});

builder.objectType(UnverifiedSendingDomainError, {
  name: 'UnverifiedSendingDomainError',
  description: 'Marketing email from a sending domain whose DNS records are not verified; verify it first.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ domain: t.exposeString('domain') }),
});

builder.objectType(IpPoolNameTakenError, {
  name: 'IpPoolNameTakenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ name: t.exposeString('takenName') }),
});

builder.objectType(SendingIpTakenError, {
  name: 'SendingIpTakenError',
  description: 'The address is in another IP pool of this organization; remove it there first.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ ip: t.exposeString('ip') }),
});

builder.objectType(SendingIpNotAllowedError, {
  name: 'SendingIpNotAllowedError',
  description: "Not one of the platform's sending addresses: mail cannot leave from it.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ ip: t.exposeString('ip') }),
});
