// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rewind: a kernel flight recorder. Module entry and exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include "rewind.h"

struct rewind_session __rcu *rewind_active;
/* Serializes control operations; see rewind.h. */
DEFINE_MUTEX(rewind_mutex);
struct rewind_session *rewind_session;

bool rewind_test_hooks;
module_param_named(test_hooks, rewind_test_hooks, bool, 0444);
MODULE_PARM_DESC(test_hooks, "Allow REWIND_IOC_TEST (test events); off by default");

static bool rewind_autostart;
module_param_named(autostart, rewind_autostart, bool, 0444);
MODULE_PARM_DESC(autostart, "Configure with defaults and start tracing at load");

/* Default session: every probe, default sizes, overwrite mode. */
static int rewind_autostart_session(void)
{
	struct rewind_config cfg = { .probe_mask = REWIND_PROBES_ALL };
	struct rewind_session *s;
	int ret;

	s = rewind_session_create(&cfg);
	if (IS_ERR(s))
		return PTR_ERR(s);
	mutex_lock(&rewind_mutex);
	rewind_session = s;
	ret = rewind_session_start(s);
	mutex_unlock(&rewind_mutex);
	return ret;
}

static int __init rewind_init(void)
{
	int found, ret;

	found = rewind_probes_init();
	ret = rewind_device_init();
	if (ret)
		return ret;
	if (rewind_autostart) {
		ret = rewind_autostart_session();
		if (ret)
			goto err_teardown;
	}
	pr_info("loaded, ABI %d, format %d, %d/%d tracepoints found%s\n",
		REWIND_ABI_VERSION, REWIND_FORMAT_VERSION, found,
		REWIND_PROBE_COUNT, rewind_test_hooks ? ", test hooks on" : "");
	return 0;

err_teardown:
	mutex_lock(&rewind_mutex);
	rewind_session_teardown();
	mutex_unlock(&rewind_mutex);
	rewind_device_exit();
	return ret;
}

static void __exit rewind_exit(void)
{
	mutex_lock(&rewind_mutex);
	rewind_session_teardown();
	mutex_unlock(&rewind_mutex);
	rewind_device_exit();
	pr_info("unloaded\n");
}

module_init(rewind_init);
module_exit(rewind_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("Rewind authors");
MODULE_DESCRIPTION("Rewind: per-CPU kernel flight recorder writing CTF");
MODULE_VERSION("0.1");
