import { describe, expect, it } from 'vitest';
import { catalogue, parseEvent } from '../events/catalogue.ts';
import { createEvent } from '../events/envelope.ts';

const org = '01900000-0000-7000-8000-000000000001';
const contact = '01900000-0000-7000-8000-000000000002';
const segment = '01900000-0000-7000-8000-000000000003';
const field = '01900000-0000-7000-8000-000000000004';
const company = '01900000-0000-7000-8000-000000000005';

const roundTrip = (event: unknown) => parseEvent(JSON.parse(JSON.stringify(event)));

describe('crm events others name things by', () => {
  it('carry a custom event keyed by its contact, with its name, properties and time', () => {
    const tracked = createEvent(catalogue.crm.contactEventTracked, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { name: 'purchase', properties: { plan: 'pro', amount: 49 }, occurredAt: '2026-05-01T10:00:00.000Z' },
    });
    expect(tracked).toMatchObject({ type: 'crm.contact.event-tracked', subject: { type: 'contact', id: contact } });
    expect(roundTrip(tracked)).toEqual(tracked);
    expect(() => roundTrip({ ...tracked, data: { ...tracked.data, name: '' } })).toThrow(
      /invalid crm.contact.event-tracked v1 data/,
    );
    expect(() => roundTrip({ ...tracked, data: { ...tracked.data, occurredAt: 'yesterday' } })).toThrow(/invalid/);
  });

  it('carry segments and custom fields keyed by themselves, and refuse unknown kinds and keys', () => {
    for (const def of [catalogue.crm.segmentCreated, catalogue.crm.segmentUpdated, catalogue.crm.segmentDeleted]) {
      const event = createEvent(def, {
        organizationId: org,
        subjectId: segment,
        correlationId: 'c',
        data: { kind: 'static', name: 'Onboarded' },
      });
      expect(event.subject).toEqual({ type: 'segment', id: segment });
      expect(roundTrip(event)).toEqual(event);
      expect(() => roundTrip({ ...event, data: { kind: 'smart', name: 'x' } })).toThrow(/invalid/);
    }
    for (const def of [catalogue.crm.fieldCreated, catalogue.crm.fieldDeleted]) {
      const event = createEvent(def, {
        organizationId: org,
        subjectId: field,
        correlationId: 'c',
        data: { entity: 'contact', key: 'plan', type: 'select', options: { choices: ['free', 'pro'] } },
      });
      expect(event.subject).toEqual({ type: 'field', id: field });
      expect(roundTrip(event)).toEqual(event);
      expect(() => roundTrip({ ...event, data: { ...event.data, key: 'Plan Name' } })).toThrow(/invalid/);
      expect(() => roundTrip({ ...event, data: { ...event.data, entity: 'deal' } })).toThrow(/invalid/);
    }
  });

  it("carry companies keyed by themselves and a contact's companies keyed by the contact, as full lists", () => {
    const snapshot = { name: 'Acme', domain: 'acme.com', fields: { size: 50 } };
    for (const def of [catalogue.crm.companyCreated, catalogue.crm.companyUpdated]) {
      const event = createEvent(def, {
        organizationId: org,
        subjectId: company,
        correlationId: 'c',
        data: { company: snapshot },
      });
      expect(event.subject).toEqual({ type: 'company', id: company });
      expect(roundTrip(event)).toEqual(event);
      expect(() => roundTrip({ ...event, data: { company: { ...snapshot, name: '' } } })).toThrow(/invalid/);
    }
    const deleted = createEvent(catalogue.crm.companyDeleted, {
      organizationId: org,
      subjectId: company,
      correlationId: 'c',
      data: {},
    });
    expect(roundTrip(deleted)).toEqual(deleted);
    const links = createEvent(catalogue.crm.contactCompaniesChanged, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { companyIds: [company], primaryCompanyId: company },
    });
    expect(links.subject).toEqual({ type: 'contact', id: contact });
    expect(roundTrip(links)).toEqual(links);
    expect(() => roundTrip({ ...links, data: { companyIds: ['acme'], primaryCompanyId: null } })).toThrow(/invalid/);
    expect(() => roundTrip({ ...links, data: { companyIds: [] } })).toThrow(/invalid/);
  });

  it('carry stage changes, group scores and enrolment requests keyed by the contact, and refuse unknown reasons', () => {
    const moved = createEvent(catalogue.crm.contactStageChanged, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { fromStageId: null, toStageId: segment, reason: 'trigger' },
    });
    expect(moved).toMatchObject({ type: 'crm.contact.stage-changed', subject: { type: 'contact', id: contact } });
    expect(roundTrip(moved)).toEqual(moved);
    expect(() => roundTrip({ ...moved, data: { ...moved.data, reason: 'cron' } })).toThrow(/invalid/);
    const scored = createEvent(catalogue.crm.groupPointsChanged, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { groupId: field, delta: 5, points: 25 },
    });
    expect(roundTrip(scored)).toEqual(scored);
    const enrol = createEvent(catalogue.crm.journeyEnrollmentRequested, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { journeyId: company, triggerId: field, idempotencyKey: 'point-trigger:x:y:1' },
    });
    expect(roundTrip(enrol)).toEqual(enrol);
    expect(() => roundTrip({ ...enrol, data: { ...enrol.data, journeyId: 'nope' } })).toThrow(/invalid/);
  });
});
