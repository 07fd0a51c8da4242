import { describe, expect, it } from 'vitest';
import { catalogue, InvalidEventError, parseEvent } from './catalogue.ts';
import { contextOf, createEvent, topicOf } from './envelope.ts';

const org = '01900000-0000-7000-8000-000000000001';
const user = '01900000-0000-7000-8000-000000000002';

describe('event catalogue', () => {
  it('builds a valid v7-identified envelope that parses back unchanged', () => {
    const event = createEvent(catalogue.identity.userCreated, {
      organizationId: org,
      subjectId: user,
      correlationId: 'req-1',
      data: { email: 'ada@example.com', name: 'Ada' },
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(event).toMatchObject({ type: 'identity.user.created', version: 1, subject: { type: 'user', id: user } });
    expect(parseEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
  });

  it('refuses data that breaks the schema when building', () => {
    expect(() =>
      createEvent(catalogue.identity.userCreated, {
        organizationId: org,
        subjectId: user,
        correlationId: 'c',
        data: { email: 'not an email', name: 'Ada' },
      }),
    ).toThrow();
  });

  it('rejects unknown types, unknown versions, bad envelopes and bad data when parsing', () => {
    const good = createEvent(catalogue.identity.userCreated, {
      organizationId: org,
      subjectId: user,
      correlationId: 'c',
      data: { email: 'a@example.com', name: 'A' },
    });
    expect(() => parseEvent({ ...good, type: 'identity.user.exploded' })).toThrow(/unknown event/);
    expect(() => parseEvent({ ...good, version: 2 })).toThrow(InvalidEventError);
    expect(() => parseEvent({ ...good, id: 'not-a-uuid' })).toThrow(/invalid envelope/);
    expect(() => parseEvent({ ...good, data: { email: 'a@example.com' } })).toThrow(
      /invalid identity.user.created v1 data/,
    );
  });

  it("carries content's form submissions and page visits, and refuses them malformed", () => {
    const contact = '01900000-0000-7000-8000-000000000003';
    const form = '01900000-0000-7000-8000-000000000004';
    const submitted = createEvent(catalogue.content.formSubmitted, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { formId: form, contactId: contact, fields: { email: 'a@example.com', topics: ['a', 'b'] }, pageUrl: null },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(submitted)))).toEqual(submitted);
    const visited = createEvent(catalogue.content.pageVisited, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { contactId: contact, url: 'https://example.com/pricing', referrer: null, pageId: null },
    });
    expect(parseEvent(JSON.parse(JSON.stringify(visited)))).toMatchObject({
      type: 'content.page.visited',
      version: 1,
      subject: { type: 'contact', id: contact },
    });
    expect(() => parseEvent({ ...submitted, data: { ...submitted.data, formId: 'not-a-uuid' } })).toThrow(
      /invalid content.form.submitted v1 data/,
    );
    expect(() => parseEvent({ ...visited, data: { contactId: contact, referrer: null, pageId: null } })).toThrow(
      /invalid content.page.visited v1 data/,
    );
  });

  it('names the owning context and its topic', () => {
    expect(contextOf('crm.contact.created')).toBe('crm');
    expect(topicOf('crm')).toBe('mauntic.crm.events');
  });
});
