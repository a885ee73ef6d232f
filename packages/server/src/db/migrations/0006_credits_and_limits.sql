ALTER TABLE "api_keys" ADD COLUMN "requests_per_minute" integer;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "tokens_per_minute" integer;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "credits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "credit_ledger_release_unique" ON "credit_ledger" USING btree ("reference") WHERE "credit_ledger"."kind" = 'release';--> statement-breakpoint
CREATE INDEX "credit_ledger_reservation_idx" ON "credit_ledger" USING btree ("created_at") WHERE "credit_ledger"."kind" = 'reservation';