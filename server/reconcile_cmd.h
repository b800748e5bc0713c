/* `railhook reconcile [--json] [--apply] [--deep]`: one reconciliation pass from the command
 * line, its plan printed like terraform plan. */
#ifndef RAILHOOK_SERVER_RECONCILE_CMD_H
#define RAILHOOK_SERVER_RECONCILE_CMD_H

/* Runs the command (argv[2...] are its options) and returns the exit code: plan: 0 when
 * nothing differs, 2 when there are changes; --apply: 0; 1 on error (and when another
 * instance is reconciling); 2 for a bad option. */
int reconcile_cmd(int argc, char **argv);

#endif
