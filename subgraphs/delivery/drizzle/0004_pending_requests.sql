CREATE TABLE "delivery"."pending_requests" (
	"organization_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"contact_id" uuid NOT NULL,
	"request" jsonb NOT NULL,
	"correlation_id" text NOT NULL,
	"deadline" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pending_requests_pkey" PRIMARY KEY("organization_id","idempotency_key")
);
--> statement-breakpoint
CREATE INDEX "pending_requests_contact_idx" ON "delivery"."pending_requests" USING btree ("organization_id","contact_id");--> statement-breakpoint
CREATE INDEX "pending_requests_deadline_idx" ON "delivery"."pending_requests" USING btree ("deadline");