// Journeys through the gateway, as a client calls them: a draft with its issues, validated,
// published as version 1, paused, resumed and archived, a contact's runs read across subgraphs.
// The same suite runs against both modes.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';

const JOURNEY = 'id name status version issues { stepId code } currentVersion { version } versions { version }';
const TRANSITION = '... on JourneyTransitionError { code status action }';
const mutation = (
  name: string,
  input: string,
  extra = TRANSITION,
) => `mutation($input: ${input}!) { ${name}(input: $input) {
  __typename ... on Journey { ${JOURNEY} } ${extra} ... on Error { code message } } }`;
const CREATE = mutation('createJourney', 'CreateJourneyInput', '');
const UPDATE = mutation('updateJourney', 'UpdateJourneyInput');
const PUBLISH = mutation(
  'publishJourney',
  'PublishJourneyInput',
  `${TRANSITION} ... on JourneyValidationError { issues { stepId path code } }`,
);
const PAUSE = mutation('pauseJourney', 'PauseJourneyInput');
const RESUME = mutation('resumeJourney', 'ResumeJourneyInput');
const ARCHIVE = mutation('archiveJourney', 'ArchiveJourneyInput');
const VALIDATE = `mutation($input: ValidateJourneyInput!) { validateJourney(input: $input) {
  __typename ... on JourneyValidation { valid issues { stepId path code message } } ... on Error { code } } }`;
const ENROLL = `mutation($input: EnrollContactInput!) { enrollContact(input: $input) {
  __typename ... on ContactEnrollment { runId } ... on Error { code } } }`;
const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) { __typename ... on Contact { id } } }`;

/** Contacts enter by API, are tagged, wait a day, and leave. */
const definition = (next = 'wait') => ({
  entry: [{ type: 'api' }],
  start: 'tag',
  steps: {
    tag: { type: 'updateContact', addTags: ['onboarding'], next },
    wait: { type: 'delay', wait: { duration: '1 day' }, next: 'done' },
    done: { type: 'exit' },
  },
  settings: { entryRule: { kind: 'oneActive' } },
});

export function journeySuite(name: string, start: PlatformFactory) {
  describe(`journeys through the gateway (${name})`, () => {
    let platform: Platform;
    let token: string;
    const call = async (query: string, variables: Record<string, unknown> = {}) => {
      const result = await gql(platform.url, query, variables, { token });
      expect(result.errors).toBeUndefined();
      return result.data!;
    };

    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'journey')).session.accessToken;
    });
    afterAll(() => platform?.stop());

    it('creates a draft, validates it, publishes it, pauses, resumes and archives it', async () => {
      const created = (await call(CREATE, { input: { name: 'Onboarding', definition: definition('nowhere') } }))
        .createJourney;
      expect(created).toMatchObject({ __typename: 'Journey', status: 'DRAFT', version: null, versions: [] });
      expect(created.issues).toEqual(
        expect.arrayContaining([
          { stepId: 'tag', code: 'unknown_step' },
          { stepId: 'wait', code: 'unreachable_step' },
        ]),
      );
      const id = created.id;

      const invalid = (await call(VALIDATE, { input: { id } })).validateJourney;
      expect(invalid.valid).toBe(false);
      expect(invalid.issues).toContainEqual({
        stepId: 'tag',
        path: ['steps', 'tag', 'next'],
        code: 'unknown_step',
        message: 'leads to nowhere, which is not a step',
      });
      expect((await call(PUBLISH, { input: { id } })).publishJourney).toMatchObject({
        __typename: 'JourneyValidationError',
        code: 'JOURNEY_INVALID',
        issues: expect.arrayContaining([{ stepId: 'tag', path: ['steps', 'tag', 'next'], code: 'unknown_step' }]),
      });

      const fixed = (await call(UPDATE, { input: { id, definition: definition() } })).updateJourney;
      expect(fixed.issues).toEqual([]);
      expect((await call(VALIDATE, { input: { id } })).validateJourney).toEqual({
        __typename: 'JourneyValidation',
        valid: true,
        issues: [],
      });

      expect((await call(PUBLISH, { input: { id } })).publishJourney).toMatchObject({
        __typename: 'Journey',
        status: 'ACTIVE',
        version: 1,
        currentVersion: { version: 1 },
        versions: [{ version: 1 }],
      });
      expect((await call(PAUSE, { input: { id } })).pauseJourney).toMatchObject({ status: 'PAUSED' });
      expect((await call(PAUSE, { input: { id } })).pauseJourney).toMatchObject({
        __typename: 'JourneyTransitionError',
        code: 'JOURNEY_ILLEGAL_TRANSITION',
        status: 'PAUSED',
        action: 'pause',
      });
      expect((await call(RESUME, { input: { id } })).resumeJourney).toMatchObject({ status: 'ACTIVE' });
      expect((await call(ARCHIVE, { input: { id } })).archiveJourney).toMatchObject({ status: 'ARCHIVED' });
      expect((await call(UPDATE, { input: { id, name: 'Again' } })).updateJourney).toMatchObject({
        __typename: 'JourneyTransitionError',
        status: 'ARCHIVED',
        action: 'edit',
      });

      const listed = await call(`{ archived: journeys(status: ARCHIVED, first: 10) { totalCount edges { node { id } } }
        active: journeys(status: ACTIVE, first: 10) { totalCount } }`);
      expect(listed).toEqual({ archived: { totalCount: 1, edges: [{ node: { id } }] }, active: { totalCount: 0 } });
    });

    it("reads a CRM contact's journey runs across subgraphs, once CRM's event has brought the contact over", async () => {
      const id = (await call(CREATE, { input: { name: 'Enrolled', definition: definition() } })).createJourney.id;
      expect((await call(PUBLISH, { input: { id } })).publishJourney.status).toBe('ACTIVE');
      const contact = (await call(CREATE_CONTACT, { input: { email: 'runner@example.com' } })).createContact;
      // The journey context knows the contact from CRM's contact.created event, on the bus.
      const enrolled = await vi.waitFor(
        async () => {
          const result = (await call(ENROLL, { input: { journeyId: id, contactId: contact.id } })).enrollContact;
          expect(result.__typename).toBe('ContactEnrollment');
          return result;
        },
        { timeout: 30_000, interval: 100 },
      );
      expect(enrolled.runId).toEqual(expect.any(String));

      const read = await call(
        `query($id: ID!) { contact(id: $id) { email journeyRuns(first: 5) { totalCount edges { node { id journey { name } version } } } } }`,
        { id: contact.id },
      );
      expect(read.contact).toEqual({
        email: 'runner@example.com',
        journeyRuns: {
          totalCount: 1,
          edges: [{ node: { id: enrolled.runId, journey: { name: 'Enrolled' }, version: 1 } }],
        },
      });
      const runs = await call(
        `query($j: ID) { journeyRuns(filter: { journeyId: $j, version: 1 }, first: 5) { totalCount edges { node { contact { id email } } } } }`,
        { j: id },
      );
      expect(runs.journeyRuns).toEqual({
        totalCount: 1,
        edges: [{ node: { contact: { id: contact.id, email: 'runner@example.com' } } }],
      });
    });
  });
}
