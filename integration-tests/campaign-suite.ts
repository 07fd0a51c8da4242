// A broadcast end to end through the gateway, as a client and its recipients meet it: contacts
// join a segment in CRM -> a campaign to that segment minus an exclusion segment is launched ->
// the members get the email once, the excluded one gets nothing -> an open and a click (landing on
// the link with the campaign's UTM values) show in the campaign's live stats and click map. Embedded mode reads the mail in /outbox; cluster mode at a
// real SMTP server, with the campaign sender as its own process. The campaign context learns
// memberships from CRM's events: the launch waits until its audience has arrived.
import { newId } from '@mauntic/kernel';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { eventually, LINK, type Mailbox, MJML } from './delivery-suite.ts';
import { gql, type Platform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';
import { decodeEntities } from './mail.ts';
import { subscribe } from './subscriptions-suite.ts';

const CREATE_TEMPLATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Template { id } } }`;
const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) { __typename ... on Contact { id } } }`;
const CREATE_SEGMENT = `mutation($input: CreateSegmentInput!) { createSegment(input: $input) { __typename ... on Segment { id } } }`;
const ADD_TO_SEGMENT = `mutation($input: AddToSegmentInput!) { addToSegment(input: $input) { __typename ... on Error { code message } } }`;
const CREATE_CAMPAIGN = `mutation($input: CreateCampaignInput!) { createCampaign(input: $input) {
  __typename ... on Campaign { id status } ... on Error { code message } } }`;
const CAMPAIGN = `query($id: ID!) { campaign(id: $id) { status audienceCount recipientCount requestedCount
  stats { variant requested sent openedHuman clicked } clickMap { url uniqueClicks } } }`;
const LAUNCH = `mutation($id: ID!) { launchCampaign(input: { id: $id }) {
  __typename ... on Campaign { status } ... on CampaignTransitionError { status action } ... on Error { code message } } }`;
const PROGRESS = `subscription($id: ID!, $after: ID) { campaignProgress(campaignId: $id, after: $after) {
  id type campaignId recipients requested skipped campaign { name } } }`;
const PAUSE = `mutation($id: ID!) { pauseCampaign(input: { id: $id }) {
  __typename ... on CampaignTransitionError { status action code } } }`;

/** A mail client opening the message: it loads the tracking image. */
const MAIL_CLIENT = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0';

export function campaignSuite(
  name: string,
  start: () => Promise<Platform>,
  openMailbox: (p: () => Platform) => Promise<Mailbox>,
) {
  describe(`a campaign sent through the gateway (${name})`, () => {
    let platform: Platform;
    let mailbox: Mailbox;
    beforeAll(async () => {
      platform = await start();
      mailbox = await openMailbox(() => platform);
    });
    afterAll(async () => {
      await mailbox?.close();
      await platform?.stop();
    });

    it('segment minus exclusions -> one email each -> opens and clicks in the live stats', async () => {
      const { session } = await signUp(platform.url, 'campaigns');
      const call = async (query: string, variables: Record<string, unknown> = {}) => {
        const result = await gql(platform.url, query, variables, { token: session.accessToken });
        expect(result.errors).toBeUndefined();
        return result.data!;
      };
      await mailbox.setUp((query, variables) =>
        gql(platform.url, query, variables ?? {}, { token: session.accessToken }),
      );
      const template = (
        await call(CREATE_TEMPLATE, {
          input: {
            name: 'Spring sale',
            channel: 'EMAIL',
            category: 'MARKETING',
            source: { mjml: MJML, subject: 'Spring sale', fromAddress: 'hello@shop.example.com' },
          },
        })
      ).createTemplate.id as string;
      const segment = async (label: string) =>
        (await call(CREATE_SEGMENT, { input: { name: label, kind: 'STATIC' } })).createSegment.id as string;
      const [buyers, blocked] = [await segment('buyers'), await segment('blocked')];
      const people = [uniqueEmail('ann'), uniqueEmail('bob'), uniqueEmail('eve')];
      const ids: string[] = [];
      for (const email of people)
        ids.push((await call(CREATE_CONTACT, { input: { email, firstName: 'Reader' } })).createContact.id);
      await call(ADD_TO_SEGMENT, { input: { segmentId: buyers, contactIds: ids } });
      await call(ADD_TO_SEGMENT, { input: { segmentId: blocked, contactIds: [ids[2]] } });

      const campaign = (
        await call(CREATE_CAMPAIGN, {
          input: {
            name: 'Spring sale',
            channel: 'EMAIL',
            variants: [{ key: 'A', templateId: template }],
            segmentIds: [buyers],
            excludedSegmentIds: [blocked],
            utm: { source: 'newsletter', medium: 'email', campaign: 'spring-sale' },
          },
        })
      ).createCampaign;
      expect(campaign.status).toBe('DRAFT');
      expect((await call(PAUSE, { id: campaign.id })).pauseCampaign).toEqual({
        __typename: 'CampaignTransitionError',
        status: 'DRAFT',
        action: 'pause',
        code: 'CAMPAIGN_ILLEGAL_TRANSITION',
      });
      // The memberships reach the campaign context through CRM's events.
      await eventually('the audience to arrive', async () =>
        (await call(CAMPAIGN, { id: campaign.id })).campaign.audienceCount === 2 ? true : undefined,
      );
      // The launch's progress over graphql-ws: from an id made now, so none of it is missed
      // however long the gateway takes to have the subscription live.
      const connect = (bearer: string) =>
        createClient({
          url: platform.url.replace(/^http/, 'ws'),
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${bearer}` },
          retryAttempts: 0,
        });
      const after = newId();
      const ws = connect(session.accessToken);
      const progress = subscribe(ws, PROGRESS, { id: campaign.id, after });
      // Another organization subscribed to this campaign's id, from the same point, sees nothing.
      const otherWs = connect((await signUp(platform.url, 'campaigns-other')).session.accessToken);
      const otherProgress = subscribe(otherWs, PROGRESS, { id: campaign.id, after });
      expect((await call(LAUNCH, { id: campaign.id })).launchCampaign.__typename).toBe('Campaign');

      const read = (address: string) => mailbox.received(address, session.accessToken);
      const [ann] = await eventually(
        'the email to the first member',
        async () => ((await read(people[0]!)).length ? read(people[0]!) : undefined),
        { timeoutMs: 60_000 },
      );
      await eventually('the email to the second member', async () =>
        (await read(people[1]!)).length ? true : undefined,
      );
      expect(ann!.subject).toBe('Spring sale');
      const done = await eventually('the campaign to complete', async () => {
        const c = (await call(CAMPAIGN, { id: campaign.id })).campaign;
        return c.status === 'COMPLETED' ? c : undefined;
      });
      expect(done).toMatchObject({ recipientCount: 2, requestedCount: 2 });
      await eventually('the completion in the progress subscription', async () =>
        progress.events.some((e) => e.type === 'campaign.campaign.completed') ? true : undefined,
      );
      expect(progress.errors).toEqual([]);
      expect(progress.events.map(({ id: _, ...e }) => e)).toEqual([
        {
          type: 'campaign.campaign.launched',
          campaignId: campaign.id,
          recipients: 2,
          requested: null,
          skipped: null,
          campaign: { name: 'Spring sale' },
        },
        {
          type: 'campaign.campaign.progressed',
          campaignId: campaign.id,
          recipients: 2,
          requested: 2,
          skipped: 0,
          campaign: { name: 'Spring sale' },
        },
        {
          type: 'campaign.campaign.completed',
          campaignId: campaign.id,
          recipients: null,
          requested: 2,
          skipped: null,
          campaign: { name: 'Spring sale' },
        },
      ]);
      expect(otherProgress.errors).toEqual([]);
      expect(otherProgress.events).toEqual([]);
      progress.stop();
      otherProgress.stop();
      await ws.dispose();
      await otherWs.dispose();

      // The recipient opens the message and clicks its link.
      const html = decodeEntities(ann!.html);
      const pixel = /<img[^>]+src="([^"]+\/t\/open\?t=[\w.-]+)"/.exec(html)?.[1];
      const link = /href="([^"]+\/t\/click\?t=[^"]+)"/.exec(html)?.[1];
      expect(pixel && link).toBeTruthy();
      const local = (url: string) => url.replace(/^https?:\/\/[^/]+/, platform.publicUrl);
      expect((await fetch(local(pixel!), { headers: { 'user-agent': MAIL_CLIENT } })).status).toBe(200);
      // A click within 2 s of the send is a link scanner's, not a person's.
      await new Promise((r) => setTimeout(r, 2_500));
      const click = await fetch(local(link!), { headers: { 'user-agent': MAIL_CLIENT }, redirect: 'manual' });
      // The visitor lands on the link with the campaign's UTM values added, its own parameter kept.
      expect(click.status).toBe(302);
      const target = new URL(click.headers.get('location')!);
      expect(target.origin + target.pathname).toBe(new URL(LINK).origin + new URL(LINK).pathname);
      expect(Object.fromEntries(target.searchParams)).toEqual({
        ...Object.fromEntries(new URL(LINK).searchParams),
        utm_source: 'newsletter',
        utm_medium: 'email',
        utm_campaign: 'spring-sale',
      });

      const stats = await eventually('the open and the click in the stats', async () => {
        const c = (await call(CAMPAIGN, { id: campaign.id })).campaign;
        return c.stats[0].sent === 2 && c.stats[0].openedHuman === 1 && c.stats[0].clicked === 1 ? c : undefined;
      });
      expect(stats.stats).toEqual([{ variant: 'A', requested: 2, sent: 2, openedHuman: 1, clicked: 1 }]);
      expect(stats.clickMap).toEqual([{ url: LINK, uniqueClicks: 1 }]);
      // The excluded contact got nothing, and nobody got it twice.
      expect(await read(people[2]!)).toEqual([]);
      expect(await read(people[0]!)).toHaveLength(1);
    });
  });
}
