-- Custom SQL migration file, put your code below! --
-- metric_tail becomes a rowid table with its (series_id, seq) key as a separate index. Clustered by
-- series (WITHOUT ROWID), a 1,000-point log-batch of 10 keys wrote its 10 pieces of about 1 KB into 10
-- leaf pages (three such rows fill a page, so the leaves split often) and the commit wrote 38 pages to
-- the WAL; appended at the end of a rowid table the pieces take about 3 pages, and their key entries,
-- 10 small adjacent rows in the index, one or two: 16 pages. Small writes no longer scatter a series'
-- points over many rows and pages, since appendPoints merges a small write into the series' last
-- small piece (store/sqlite/metrics.sql.ts). Rows are copied in key order, so existing tails stay adjacent.
CREATE TABLE `__new_metric_tail` (
	`series_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`n` integer NOT NULL,
	`min_step` integer NOT NULL,
	`max_step` integer NOT NULL,
	`data` blob NOT NULL,
	PRIMARY KEY(`series_id`, `seq`),
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_metric_tail` (`series_id`, `seq`, `n`, `min_step`, `max_step`, `data`)
SELECT `series_id`, `seq`, `n`, `min_step`, `max_step`, `data` FROM `metric_tail` ORDER BY `series_id`, `seq`;
--> statement-breakpoint
DROP TABLE `metric_tail`;
--> statement-breakpoint
ALTER TABLE `__new_metric_tail` RENAME TO `metric_tail`;
