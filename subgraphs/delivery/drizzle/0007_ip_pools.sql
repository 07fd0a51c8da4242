CREATE TABLE "delivery"."ip_pools" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"name" text NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."pool_ips" (
	"id" uuid PRIMARY KEY NOT NULL,
	"organization_id" uuid NOT NULL,
	"pool_id" uuid NOT NULL,
	"ip" text NOT NULL,
	"weight" integer DEFAULT 1 NOT NULL,
	"warmup" jsonb,
	"warmup_started_on" date,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "delivery"."sending_reputation" (
	"organization_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"points" double precision NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "sending_reputation_pkey" PRIMARY KEY("organization_id","kind","subject")
);
--> statement-breakpoint
ALTER TABLE "delivery"."messages" ADD COLUMN "sending_ip" text;--> statement-breakpoint
ALTER TABLE "delivery"."messages" ADD COLUMN "sending_domain" text;--> statement-breakpoint
ALTER TABLE "delivery"."sending_domains" ADD COLUMN "ip_pool_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "ip_pools_name_key" ON "delivery"."ip_pools" USING btree ("organization_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "ip_pools_default_key" ON "delivery"."ip_pools" USING btree ("organization_id") WHERE is_default;--> statement-breakpoint
CREATE UNIQUE INDEX "pool_ips_ip_key" ON "delivery"."pool_ips" USING btree ("organization_id","ip");--> statement-breakpoint
CREATE INDEX "pool_ips_pool_idx" ON "delivery"."pool_ips" USING btree ("organization_id","pool_id");