-- Custom SQL migration file, put your code below! --
-- metric_tail goes from a row per point to a row per (series, write) holding that write's points for
-- the series in the chunk encoding (store/tail-pieces.ts), as PostgreSQL's metric_tail does: a
-- 1,000-point log-batch of 10 keys writes 10 rows instead of 1,000, and a seal reads and deletes those
-- few rows. seq stays the place of the piece's first point in its series. The points already there
-- become one piece per series in arrival (seq) order; lablog_tail_piece is the aggregate migrate.ts
-- registers for this (SQL has no way to write a float64's bytes). WITHOUT ROWID as before, which
-- drizzle-kit cannot declare (the snapshot has the table as schema.ts declares it).
CREATE TABLE `__new_metric_tail` (
	`series_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`n` integer NOT NULL,
	`min_step` integer NOT NULL,
	`max_step` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`series_id`, `seq`),
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_metric_tail` (`series_id`, `seq`, `n`, `min_step`, `max_step`, `data`)
SELECT `series_id`, min(`seq`), count(*), min(`step`), max(`step`), lablog_tail_piece(`step`, `timestamp`, `value` ORDER BY `seq`)
FROM `metric_tail` GROUP BY `series_id`;
--> statement-breakpoint
DROP TABLE `metric_tail`;
--> statement-breakpoint
ALTER TABLE `__new_metric_tail` RENAME TO `metric_tail`;
