-- Custom SQL migration file, put your code below! --
-- Every series gets its run's experiment (0012 added the column); the index on it comes after
-- (0014), built once over the filled column rather than updated row by row. At a million runs
-- (20 million series) this is the one slow start after the upgrade, a few minutes.
UPDATE `metric_series` SET `experiment_id` = (SELECT `experiment_id` FROM `runs` WHERE `runs`.`id` = `metric_series`.`run_id`);
