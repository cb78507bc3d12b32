-- metric_tail goes from a row per point to a row per (series, write) holding that write's points in
-- the chunk encoding (store/chunk-codec.ts), keyed by (series_id, seq). drizzle-kit generated the
-- schema change (the snapshot has the table as schema.ts declares it; it cannot name the old primary
-- key, metric_tail_pkey, so its drop is written here); the columns are added nullable first so that
-- the rows already there can be packed, one piece per series in arrival (seq) order, before the old
-- columns go.
-- The encoder lives in pg_temp: it exists for this migration only. It writes what encodeChunk writes:
-- the count as a little-endian uint32 and 4 zero bytes, the values as little-endian float64 (NULL, which
-- meant NaN, as NaN), then steps and timestamps as zigzag varints of their deltas.
CREATE FUNCTION pg_temp.lablog_deltas(xs bigint[]) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  hex text := '';
  prev bigint := 0;
  z bigint;
BEGIN
  FOR i IN 1..coalesce(cardinality(xs), 0) LOOP
    z := CASE WHEN xs[i] - prev >= 0 THEN (xs[i] - prev) * 2 ELSE (prev - xs[i]) * 2 - 1 END;
    prev := xs[i];
    WHILE z >= 128 LOOP
      hex := hex || lpad(to_hex(z % 128 + 128), 2, '0');
      z := z / 128;
    END LOOP;
    hex := hex || lpad(to_hex(z), 2, '0');
  END LOOP;
  RETURN hex;
END $$;
--> statement-breakpoint
CREATE FUNCTION pg_temp.lablog_piece(steps bigint[], stamps bigint[], vals float8[]) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n integer := cardinality(vals);
  hex text := '';
  b bytea;
BEGIN
  FOR k IN 0..3 LOOP
    hex := hex || lpad(to_hex((n >> (8 * k)) & 255), 2, '0');
  END LOOP;
  hex := hex || '00000000';
  FOR i IN 1..n LOOP
    b := float8send(coalesce(vals[i], 'NaN'::float8));
    FOR k IN REVERSE 7..0 LOOP
      hex := hex || lpad(to_hex(get_byte(b, k)), 2, '0');
    END LOOP;
  END LOOP;
  RETURN decode(hex || pg_temp.lablog_deltas(steps) || pg_temp.lablog_deltas(stamps), 'hex');
END $$;
--> statement-breakpoint
DROP INDEX "metric_tail_series_step";--> statement-breakpoint
ALTER TABLE "metric_tail" ADD COLUMN "n" integer;--> statement-breakpoint
ALTER TABLE "metric_tail" ADD COLUMN "min_step" bigint;--> statement-breakpoint
ALTER TABLE "metric_tail" ADD COLUMN "max_step" bigint;--> statement-breakpoint
ALTER TABLE "metric_tail" ADD COLUMN "data" "bytea";--> statement-breakpoint
INSERT INTO "metric_tail" ("series_id", "step", "timestamp", "n", "min_step", "max_step", "data")
SELECT "series_id", 0, 0, count(*), min("step"), max("step"),
  pg_temp.lablog_piece(array_agg("step" ORDER BY "seq"), array_agg("timestamp" ORDER BY "seq"), array_agg("value" ORDER BY "seq"))
FROM "metric_tail" GROUP BY "series_id";--> statement-breakpoint
DELETE FROM "metric_tail" WHERE "data" IS NULL;--> statement-breakpoint
ALTER TABLE "metric_tail" ALTER COLUMN "n" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "metric_tail" ALTER COLUMN "min_step" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "metric_tail" ALTER COLUMN "max_step" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "metric_tail" ALTER COLUMN "data" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "metric_tail" DROP CONSTRAINT "metric_tail_pkey";--> statement-breakpoint
ALTER TABLE "metric_tail" ADD CONSTRAINT "metric_tail_series_seq" PRIMARY KEY("series_id","seq");--> statement-breakpoint
ALTER TABLE "metric_tail" DROP COLUMN "step";--> statement-breakpoint
ALTER TABLE "metric_tail" DROP COLUMN "timestamp";--> statement-breakpoint
ALTER TABLE "metric_tail" DROP COLUMN "value";--> statement-breakpoint
DROP FUNCTION pg_temp.lablog_piece(bigint[], bigint[], float8[]);--> statement-breakpoint
DROP FUNCTION pg_temp.lablog_deltas(bigint[]);
