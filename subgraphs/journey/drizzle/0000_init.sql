CREATE SCHEMA "journey";
--> statement-breakpoint
CREATE TABLE "journey"."contacts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"email" text,
	"phone" text,
	"first_name" text,
	"last_name" text,
	"timezone" text,
	"locale" text,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"points" integer DEFAULT 0 NOT NULL,
	"stage_id" uuid,
	"owner_id" uuid,
	"dnc" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey"."custom_fields" (
	"organization_id" uuid NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "custom_fields_pkey" PRIMARY KEY("organization_id","key")
);
--> statement-breakpoint
CREATE TABLE "journey"."entries" (
	"journey_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"period_key" text NOT NULL,
	"organization_id" uuid NOT NULL,
	"run_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entries_pkey" PRIMARY KEY("journey_id","contact_id","period_key")
);
--> statement-breakpoint
CREATE TABLE "journey"."journey_versions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"journey_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"definition" jsonb NOT NULL,
	"published_by" uuid,
	"published_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey"."journeys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"status" text DEFAULT 'draft' NOT NULL,
	"definition" jsonb NOT NULL,
	"current_version_id" uuid,
	"version" integer DEFAULT 0 NOT NULL,
	"entry_keys" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "journeys_status_check" CHECK (status in ('draft', 'active', 'paused', 'archived'))
);
--> statement-breakpoint
CREATE TABLE "journey"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"type" text NOT NULL,
	"envelope" json NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "journey"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_pkey" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "journey"."runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"journey_id" uuid NOT NULL,
	"version_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"state" text DEFAULT 'ready' NOT NULL,
	"step_id" text NOT NULL,
	"visit" integer DEFAULT 1 NOT NULL,
	"due_at" timestamp with time zone,
	"wait" jsonb,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"entered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	CONSTRAINT "runs_state_check" CHECK (state in ('ready', 'waiting', 'completed', 'converted', 'exited', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "journey"."segment_memberships" (
	"organization_id" uuid NOT NULL,
	"segment_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	CONSTRAINT "segment_memberships_pkey" PRIMARY KEY("contact_id","segment_id")
);
--> statement-breakpoint
CREATE TABLE "journey"."segments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "journey"."step_log" (
	"run_id" uuid NOT NULL,
	"step_id" text NOT NULL,
	"visit" integer NOT NULL,
	"organization_id" uuid NOT NULL,
	"journey_id" uuid NOT NULL,
	"status" text NOT NULL,
	"outcome" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "step_log_pkey" PRIMARY KEY("run_id","step_id","visit"),
	CONSTRAINT "step_log_status_check" CHECK (status in ('completed', 'failed', 'skipped'))
);
--> statement-breakpoint
CREATE TABLE "journey"."templates" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "journey"."entries" ADD CONSTRAINT "entries_journey_fkey" FOREIGN KEY ("journey_id") REFERENCES "journey"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey"."journey_versions" ADD CONSTRAINT "journey_versions_journey_fkey" FOREIGN KEY ("journey_id") REFERENCES "journey"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey"."runs" ADD CONSTRAINT "runs_journey_fkey" FOREIGN KEY ("journey_id") REFERENCES "journey"."journeys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey"."runs" ADD CONSTRAINT "runs_version_fkey" FOREIGN KEY ("version_id") REFERENCES "journey"."journey_versions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "journey"."step_log" ADD CONSTRAINT "step_log_run_fkey" FOREIGN KEY ("run_id") REFERENCES "journey"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "contacts_organization_idx" ON "journey"."contacts" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "journey_versions_journey_version_key" ON "journey"."journey_versions" USING btree ("journey_id","version");--> statement-breakpoint
CREATE INDEX "journey_versions_organization_idx" ON "journey"."journey_versions" USING btree ("organization_id","journey_id","version");--> statement-breakpoint
CREATE INDEX "journeys_organization_idx" ON "journey"."journeys" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "journeys_entry_keys_idx" ON "journey"."journeys" USING gin ("entry_keys");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_id_key" ON "journey"."outbox" USING btree ("id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "journey"."outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "runs_due_idx" ON "journey"."runs" USING btree ("due_at") WHERE state = 'waiting';--> statement-breakpoint
CREATE INDEX "runs_ready_idx" ON "journey"."runs" USING btree ("id") WHERE state = 'ready';--> statement-breakpoint
CREATE INDEX "runs_organization_idx" ON "journey"."runs" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "runs_journey_idx" ON "journey"."runs" USING btree ("organization_id","journey_id","id");--> statement-breakpoint
CREATE INDEX "runs_contact_idx" ON "journey"."runs" USING btree ("organization_id","contact_id","id");--> statement-breakpoint
CREATE INDEX "segment_memberships_segment_idx" ON "journey"."segment_memberships" USING btree ("organization_id","segment_id","contact_id");--> statement-breakpoint
CREATE INDEX "segments_organization_idx" ON "journey"."segments" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "step_log_journey_idx" ON "journey"."step_log" USING btree ("organization_id","journey_id","step_id");--> statement-breakpoint
CREATE INDEX "templates_organization_idx" ON "journey"."templates" USING btree ("organization_id","id");--> statement-breakpoint
-- A published version is what its runs walk: it may be deleted with its journey, never changed.
CREATE FUNCTION "journey"."journey_versions_immutable"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'journey version % is published and cannot change', OLD.id USING ERRCODE = 'restrict_violation';
END
$$;--> statement-breakpoint
CREATE TRIGGER "journey_versions_immutable" BEFORE UPDATE ON "journey"."journey_versions"
  FOR EACH ROW EXECUTE FUNCTION "journey"."journey_versions_immutable"();
