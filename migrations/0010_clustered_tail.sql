-- Custom SQL migration file, put your code below! --
-- metric_tail clustered by (series_id, seq), WITHOUT ROWID, which drizzle-kit cannot declare (the
-- snapshot has the table as schema.ts declares it). seq is each point's place in its series: the
-- points already packed into chunks, plus the tail rows counted in their arrival (rowid) order.
CREATE TABLE `__new_metric_tail` (
	`series_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`step` integer NOT NULL,
	`timestamp` integer NOT NULL,
	`value` real,
	PRIMARY KEY(`series_id`, `seq`),
	FOREIGN KEY (`series_id`) REFERENCES `metric_series`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `__new_metric_tail` (`series_id`, `seq`, `step`, `timestamp`, `value`)
SELECT t.series_id, s.count - s.tail_count + ROW_NUMBER() OVER (PARTITION BY t.series_id ORDER BY t.rowid) - 1, t.step, t.timestamp, t.value
FROM `metric_tail` t JOIN `metric_series` s ON s.id = t.series_id;
--> statement-breakpoint
DROP TABLE `metric_tail`;
--> statement-breakpoint
ALTER TABLE `__new_metric_tail` RENAME TO `metric_tail`;
