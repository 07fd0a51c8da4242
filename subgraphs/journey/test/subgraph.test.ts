// The journey subgraph schema over the use cases: drafts and their issues, typed errors in
// mutation payloads, versions, runs with their step log, stats, and a contact's runs as the
// gateway resolves them through the Contact entity.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anonymous,
  DATABASES,
  execute,
  type Journey,
  memberOf,
  newOrg,
  openJourney,
  seedContact,
  seedRun,
  seedTemplate,
} from './harness.ts';

type Data = Record<string, any>;

const JOURNEY_FIELDS = `id name status version issues { stepId path code message }
  currentVersion { version definition } versions { version }`;
const TRANSITION = '... on JourneyTransitionError { code status action }';
const INVALID = '... on JourneyValidationError { code issues { stepId path code } }';
const PAYLOAD = (errors = TRANSITION) => `{ __typename
  ... on Journey { ${JOURNEY_FIELDS} }
  ${errors}
  ... on ForbiddenError { required }
  ... on Error { code message } }`;
const CREATE = `mutation($input: CreateJourneyInput!) { createJourney(input: $input) ${PAYLOAD('')} }`;
const UPDATE = `mutation($input: UpdateJourneyInput!) { updateJourney(input: $input) ${PAYLOAD()} }`;
const move = (name: string) =>
  `mutation($id: ID!) { ${name}(input: { id: $id }) ${PAYLOAD(name === 'publishJourney' ? `${TRANSITION} ${INVALID}` : TRANSITION)} }`;
const VALIDATE = `mutation($id: ID!, $d: JSON) { validateJourney(input: { id: $id, definition: $d }) {
  __typename ... on JourneyValidation { valid issues { stepId code } } ... on Error { code } } }`;

describe.each(DATABASES)('the journey subgraph (%s)', (_name, open) => {
  let env: Journey;
  beforeAll(async () => {
    env = await openJourney(open);
  });
  afterAll(() => env?.close());

  const data = async (ctx: Parameters<typeof execute>[1], source: string, variables?: Record<string, unknown>) => {
    const result = await execute(env.services, ctx, source, variables);
    expect(result.errors).toBeUndefined();
    return result.data as Data;
  };

  it('edits a draft with its issues, refuses to publish it with typed errors, then publishes and moves it', async () => {
    const ctx = newOrg();
    const template = await seedTemplate(env.handle, ctx.organizationId, 'email');
    const send = (templateId: string) => ({
      entry: [{ type: 'api' }],
      start: 'hello',
      steps: { hello: { type: 'send', channel: 'email', templateId, next: 'bye' }, bye: { type: 'exit' } },
    });
    const created = (await data(ctx, CREATE, { input: { name: 'Hello' } })).createJourney;
    expect(created).toMatchObject({ __typename: 'Journey', status: 'DRAFT', version: null, issues: [], versions: [] });
    const id = created.id;

    const broken = send('01900000-0000-7000-8000-0000000000ff');
    const edited = (await data(ctx, UPDATE, { input: { id, definition: broken } })).updateJourney;
    expect(edited.issues).toEqual([
      {
        stepId: 'hello',
        path: ['steps', 'hello', 'templateId'],
        code: 'unknown_template',
        message: expect.any(String),
      },
    ]);
    expect((await data(ctx, VALIDATE, { id })).validateJourney).toEqual({
      __typename: 'JourneyValidation',
      valid: false,
      issues: [{ stepId: 'hello', code: 'unknown_template' }],
    });
    expect((await data(ctx, VALIDATE, { id, d: send(template) })).validateJourney.valid).toBe(true);
    expect((await data(ctx, move('publishJourney'), { id })).publishJourney).toEqual({
      __typename: 'JourneyValidationError',
      code: 'JOURNEY_INVALID',
      message: expect.stringMatching(/^the journey definition has 1 issue: hello: there is no template/),
      issues: [{ stepId: 'hello', path: ['steps', 'hello', 'templateId'], code: 'unknown_template' }],
    });

    await data(ctx, UPDATE, { input: { id, definition: send(template) } });
    const published = (await data(ctx, move('publishJourney'), { id })).publishJourney;
    expect(published).toMatchObject({
      __typename: 'Journey',
      status: 'ACTIVE',
      version: 1,
      currentVersion: { version: 1, definition: { ...send(template), settings: { entryRule: { kind: 'once' } } } },
      versions: [{ version: 1 }],
    });
    expect((await data(ctx, move('pauseJourney'), { id })).pauseJourney.status).toBe('PAUSED');
    expect((await data(ctx, move('resumeJourney'), { id })).resumeJourney.status).toBe('ACTIVE');
    expect((await data(ctx, move('resumeJourney'), { id })).resumeJourney).toEqual({
      __typename: 'JourneyTransitionError',
      code: 'JOURNEY_ILLEGAL_TRANSITION',
      status: 'ACTIVE',
      action: 'resume',
      message: 'the journey is active: it cannot be resumed',
    });
    expect((await data(ctx, move('deleteJourney'), { id })).deleteJourney.__typename).toBe('JourneyTransitionError');
    expect((await data(ctx, move('archiveJourney'), { id })).archiveJourney.status).toBe('ARCHIVED');
    expect((await data(ctx, move('deleteJourney'), { id })).deleteJourney).toMatchObject({ __typename: 'Journey', id });
    expect((await data(ctx, `query($id: ID!) { journey(id: $id) { id } }`, { id })).journey).toBeNull();
  });

  it('answers a caller without the scope with a typed error, and one without a session with UNAUTHENTICATED', async () => {
    const ctx = newOrg();
    const viewer = memberOf(ctx, 'viewer', ['*:read']);
    expect((await data(viewer, CREATE, { input: { name: 'No' } })).createJourney).toMatchObject({
      __typename: 'ForbiddenError',
      required: 'journey:write',
    });
    const id = (await data(ctx, CREATE, { input: { name: 'Yes' } })).createJourney.id;
    expect(
      (await data(memberOf(ctx, 'editor', ['*:write']), move('deleteJourney'), { id })).deleteJourney,
    ).toMatchObject({
      __typename: 'ForbiddenError',
      required: 'journey:admin',
    });
    const refused = await execute(env.services, anonymous(), `{ journeys(first: 5) { totalCount } }`);
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect((await data(anonymous(), CREATE, { input: { name: 'x' } })).createJourney.__typename).toBe(
      'UnauthenticatedError',
    );
  });

  it("shows runs with their step log, a journey's stats, and a contact's runs through the Contact entity", async () => {
    const ctx = newOrg();
    const template = await seedTemplate(env.handle, ctx.organizationId, 'email');
    const journey = unwrap(
      await env.services.createJourney(ctx, {
        name: 'Runs',
        definition: {
          entry: [{ type: 'api' }],
          start: 'hello',
          steps: {
            hello: { type: 'send', channel: 'email', templateId: template, next: 'won' },
            won: { type: 'goal', name: 'Clicked' },
          },
        },
      }),
    );
    unwrap(await env.services.publishJourney(ctx, { id: journey.id }));
    const contact = await seedContact(env.services, ctx.organizationId);
    const run = await seedRun(env.handle, ctx.organizationId, {
      journeyId: journey.id,
      version: 1,
      contactId: contact,
      state: 'converted',
      stepId: 'won',
      log: [{ stepId: 'hello' }, { stepId: 'won' }],
    });

    const runs = (
      await data(
        ctx,
        `query($j: ID) { journeyRuns(filter: { journeyId: $j, state: CONVERTED }, first: 10) { totalCount
          edges { node { id version state stepId journey { name } contact { id } steps { stepId visit status } } } } }`,
        { j: journey.id },
      )
    ).journeyRuns;
    expect(runs).toEqual({
      totalCount: 1,
      edges: [
        {
          node: {
            id: run,
            version: 1,
            state: 'CONVERTED',
            stepId: 'won',
            journey: { name: 'Runs' },
            contact: { id: contact },
            steps: [
              { stepId: 'hello', visit: 1, status: 'COMPLETED' },
              { stepId: 'won', visit: 1, status: 'COMPLETED' },
            ],
          },
        },
      ],
    });

    const stats = (
      await data(
        ctx,
        `query($id: ID!) { journey(id: $id) { stats { entered converted steps { stepId entered converted }
          goals { stepId name converted rate } } } }`,
        { id: journey.id },
      )
    ).journey.stats;
    expect(stats).toEqual({
      entered: 1,
      converted: 1,
      steps: [
        { stepId: 'hello', entered: 1, converted: 1 },
        { stepId: 'won', entered: 1, converted: 1 },
      ],
      goals: [{ stepId: 'won', name: 'Clicked', converted: 1, rate: 1 }],
    });

    const entity = await data(
      ctx,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Contact { id journeyRuns(first: 5) { totalCount edges { node { id } } } } } }`,
      { r: [{ __typename: 'Contact', id: contact }] },
    );
    expect(entity._entities).toEqual([{ id: contact, journeyRuns: { totalCount: 1, edges: [{ node: { id: run } }] } }]);
  });
});
