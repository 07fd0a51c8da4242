CREATE SCHEMA "delivery";
--> statement-breakpoint
CREATE TABLE "delivery"."contacts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"email" text,
	"phone" text,
	"first_name" text,
	"last_name" text,
	"locale" text,
	"timezone" text,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"do_not_contact" text[] DEFAULT '{}'::text[] NOT NULL,
	"push_tokens" text[] DEFAULT '{}'::text[] NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."local_outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"from_address" text NOT NULL,
	"to_address" text NOT NULL,
	"subject" text NOT NULL,
	"html" text NOT NULL,
	"text" text NOT NULL,
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."message_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"type" text NOT NULL,
	"machine" boolean DEFAULT false NOT NULL,
	"url" text,
	"user_agent" text,
	"detail" text,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"channel" text NOT NULL,
	"template_id" uuid,
	"contact_id" uuid,
	"address" text NOT NULL,
	"source_kind" text NOT NULL,
	"source_id" text,
	"source_step_id" text,
	"context" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"not_before" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"provider_id" uuid,
	"provider_message_id" text,
	"unconfirmed" boolean DEFAULT false NOT NULL,
	"opens" integer DEFAULT 0 NOT NULL,
	"clicks" integer DEFAULT 0 NOT NULL,
	"machine_opens" integer DEFAULT 0 NOT NULL,
	"machine_clicks" integer DEFAULT 0 NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"clicked_at" timestamp with time zone,
	"bounced_at" timestamp with time zone,
	"complained_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "delivery"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_pkey" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "delivery"."providers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"channel" text NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"secrets" text,
	"is_default" boolean DEFAULT false NOT NULL,
	"rate_per_second" integer,
	"failover_provider_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."settings" (
	"organization_id" uuid PRIMARY KEY NOT NULL,
	"frequency_caps" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"quiet_hours" jsonb,
	"default_from_name" text,
	"default_from_address" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."suppressions" (
	"id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"address" text NOT NULL,
	"reason" text NOT NULL,
	"source" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_pkey" PRIMARY KEY("organization_id","channel","address")
);
--> statement-breakpoint
CREATE TABLE "delivery"."templates" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"channel" text NOT NULL,
	"category" text DEFAULT 'marketing' NOT NULL,
	"source" jsonb NOT NULL,
	"compiled" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "contacts_organization_idx" ON "delivery"."contacts" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "local_outbox_message_key" ON "delivery"."local_outbox" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "message_events_message_idx" ON "delivery"."message_events" USING btree ("organization_id","message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "messages_idempotency_key" ON "delivery"."messages" USING btree ("organization_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "messages_organization_idx" ON "delivery"."messages" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "messages_template_idx" ON "delivery"."messages" USING btree ("organization_id","template_id");--> statement-breakpoint
CREATE INDEX "messages_contact_idx" ON "delivery"."messages" USING btree ("contact_id","sent_at");--> statement-breakpoint
CREATE INDEX "messages_pending_idx" ON "delivery"."messages" USING btree ("not_before") WHERE status = 'queued';--> statement-breakpoint
CREATE INDEX "messages_leased_idx" ON "delivery"."messages" USING btree ("lease_until") WHERE status = 'sending';--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_id_key" ON "delivery"."outbox" USING btree ("id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "delivery"."outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "providers_name_key" ON "delivery"."providers" USING btree ("organization_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "providers_default_key" ON "delivery"."providers" USING btree ("organization_id","channel") WHERE is_default;--> statement-breakpoint
CREATE INDEX "providers_organization_idx" ON "delivery"."providers" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "suppressions_id_key" ON "delivery"."suppressions" USING btree ("id");--> statement-breakpoint
CREATE INDEX "suppressions_organization_idx" ON "delivery"."suppressions" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "templates_name_key" ON "delivery"."templates" USING btree ("organization_id","name");--> statement-breakpoint
CREATE INDEX "templates_organization_idx" ON "delivery"."templates" USING btree ("organization_id","id");