// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rewind: a kernel flight recorder. Module entry and exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include "rewind.h"

bool rewind_test_hooks;
module_param_named(test_hooks, rewind_test_hooks, bool, 0444);
MODULE_PARM_DESC(test_hooks, "Allow REWIND_IOC_TEST (test events); off by default");

static bool rewind_autostart;
module_param_named(autostart, rewind_autostart, bool, 0444);
MODULE_PARM_DESC(autostart, "Configure with defaults and start tracing at load");

static int __init rewind_init(void)
{
	int found, ret;

	found = rewind_probes_init();
	ret = rewind_device_init();
	if (ret)
		return ret;
	if (rewind_autostart) {
		ret = rewind_session_autostart();
		if (ret)
			goto err_session_exit;
	}
	pr_info("loaded, ABI %d, format %d, %d/%d tracepoints found%s\n",
		REWIND_ABI_VERSION, REWIND_FORMAT_VERSION, found,
		REWIND_PROBE_COUNT, rewind_test_hooks ? ", test hooks on" : "");
	return 0;

err_session_exit:
	rewind_session_exit();
	rewind_device_exit();
	return ret;
}

static void __exit rewind_exit(void)
{
	rewind_session_exit();
	rewind_device_exit();
	pr_info("unloaded\n");
}

module_init(rewind_init);
module_exit(rewind_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("Rewind authors");
MODULE_DESCRIPTION("Rewind: per-CPU kernel flight recorder writing CTF");
MODULE_VERSION("0.1");
