CREATE SCHEMA "crm";
--> statement-breakpoint
CREATE TABLE "crm"."activities" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"type" text NOT NULL,
	"subject" text,
	"properties" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."companies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"domain" text,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."contact_companies" (
	"organization_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"company_id" uuid NOT NULL,
	"is_primary" boolean DEFAULT false NOT NULL,
	CONSTRAINT "contact_companies_pkey" PRIMARY KEY("contact_id","company_id")
);
--> statement-breakpoint
CREATE TABLE "crm"."contacts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"email" text,
	"first_name" text,
	"last_name" text,
	"phone" text,
	"timezone" text,
	"locale" text,
	"owner_id" uuid,
	"stage_id" uuid,
	"points" integer DEFAULT 0 NOT NULL,
	"fields" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_active_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "crm"."do_not_contact" (
	"organization_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"reason" text NOT NULL,
	"source" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "do_not_contact_pkey" PRIMARY KEY("contact_id","channel")
);
--> statement-breakpoint
CREATE TABLE "crm"."field_definitions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"entity" text NOT NULL,
	"key" text NOT NULL,
	"label" text NOT NULL,
	"type" text NOT NULL,
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"required" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."outbox" (
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
CREATE TABLE "crm"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"organization_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_pkey" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "crm"."segment_members" (
	"organization_id" uuid NOT NULL,
	"segment_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "segment_members_pkey" PRIMARY KEY("segment_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "crm"."segments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"filter" jsonb,
	"member_count" integer DEFAULT 0 NOT NULL,
	"rebuilt_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "crm"."stages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "crm"."contact_companies" ADD CONSTRAINT "contact_companies_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."contact_companies" ADD CONSTRAINT "contact_companies_company_id_companies_id_fk" FOREIGN KEY ("company_id") REFERENCES "crm"."companies"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."do_not_contact" ADD CONSTRAINT "do_not_contact_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."segment_members" ADD CONSTRAINT "segment_members_segment_id_segments_id_fk" FOREIGN KEY ("segment_id") REFERENCES "crm"."segments"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "crm"."segment_members" ADD CONSTRAINT "segment_members_contact_id_contacts_id_fk" FOREIGN KEY ("contact_id") REFERENCES "crm"."contacts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "activities_contact_idx" ON "crm"."activities" USING btree ("organization_id","contact_id","occurred_at");--> statement-breakpoint
CREATE INDEX "activities_type_idx" ON "crm"."activities" USING btree ("organization_id","type","subject","occurred_at");--> statement-breakpoint
CREATE INDEX "companies_organization_idx" ON "crm"."companies" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "contact_companies_company_idx" ON "crm"."contact_companies" USING btree ("company_id");--> statement-breakpoint
CREATE UNIQUE INDEX "contact_companies_one_primary" ON "crm"."contact_companies" USING btree ("contact_id") WHERE "crm"."contact_companies"."is_primary";--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_email_key" ON "crm"."contacts" USING btree ("organization_id",lower("email")) WHERE "crm"."contacts"."email" is not null;--> statement-breakpoint
CREATE INDEX "contacts_organization_idx" ON "crm"."contacts" USING btree ("organization_id","id");--> statement-breakpoint
CREATE INDEX "contacts_tags_idx" ON "crm"."contacts" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "contacts_fields_idx" ON "crm"."contacts" USING gin ("fields");--> statement-breakpoint
CREATE UNIQUE INDEX "field_definitions_key" ON "crm"."field_definitions" USING btree ("organization_id","entity","key");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_id_key" ON "crm"."outbox" USING btree ("id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "crm"."outbox" USING btree ("seq") WHERE published_at is null;--> statement-breakpoint
CREATE INDEX "segment_members_contact_idx" ON "crm"."segment_members" USING btree ("contact_id");--> statement-breakpoint
CREATE INDEX "segments_organization_idx" ON "crm"."segments" USING btree ("organization_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "stages_name_key" ON "crm"."stages" USING btree ("organization_id","name");