CREATE TABLE "delivery"."dkim_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"domain_id" uuid NOT NULL,
	"generation" integer NOT NULL,
	"selector" text NOT NULL,
	"algorithm" text NOT NULL,
	"public_key" text NOT NULL,
	"private_key" text NOT NULL,
	"status" text NOT NULL,
	"retire_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."sending_domains" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"domain" text NOT NULL,
	"return_path_domain" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"checks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"checked_at" timestamp with time zone,
	"verified_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "dkim_keys_selector_key" ON "delivery"."dkim_keys" USING btree ("domain_id","selector");--> statement-breakpoint
CREATE INDEX "dkim_keys_domain_idx" ON "delivery"."dkim_keys" USING btree ("organization_id","domain_id");--> statement-breakpoint
CREATE UNIQUE INDEX "sending_domains_domain_key" ON "delivery"."sending_domains" USING btree ("organization_id","domain");--> statement-breakpoint
CREATE INDEX "sending_domains_organization_idx" ON "delivery"."sending_domains" USING btree ("organization_id","id");