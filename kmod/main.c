// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rewind: a kernel flight recorder. Module entry and exit.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>
#include "rewind.h"

bool rewind_test_hooks;
module_param_named(test_hooks, rewind_test_hooks, bool, 0444);
MODULE_PARM_DESC(test_hooks, "Allow REWIND_IOC_TEST (test events); off by default");

static bool rewind_autostart;
module_param_named(autostart, rewind_autostart, bool, 0444);
MODULE_PARM_DESC(autostart, "Configure with defaults and start tracing at load");

/*
 * The module's versions, readable in /sys/module/rewind/parameters/ by a
 * loader that may not open /dev/rewind (its device cgroup): it tells an old
 * module from this one there. They report; a value given at load is refused
 * (insmod fails with -EINVAL), and no store exists in sysfs (0444).
 */
static int rewind_param_refuse(const char *val, const struct kernel_param *kp)
{
	pr_err("parameter %s is read-only: it reports this module's version\n",
	       kp->name);
	return -EINVAL;
}

static int rewind_abi_version_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", REWIND_ABI_VERSION);
}

static int rewind_format_version_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", REWIND_FORMAT_VERSION);
}

static const struct kernel_param_ops rewind_abi_version_ops = {
	.set = rewind_param_refuse,
	.get = rewind_abi_version_get,
};

static const struct kernel_param_ops rewind_format_version_ops = {
	.set = rewind_param_refuse,
	.get = rewind_format_version_get,
};

/*
 * The same versions in .modinfo, so a loader can tell a module file of
 * another ABI before inserting it (modinfo -F rewind_abi rewind.ko).
 */
MODULE_INFO(rewind_abi, __stringify(REWIND_ABI_VERSION));
MODULE_INFO(rewind_format, __stringify(REWIND_FORMAT_VERSION));

module_param_cb(abi_version, &rewind_abi_version_ops, NULL, 0444);
MODULE_PARM_DESC(abi_version, "ABI of /dev/rewind (read-only)");
module_param_cb(format_version, &rewind_format_version_ops, NULL, 0444);
MODULE_PARM_DESC(format_version, "Wire format of the rings (read-only)");

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
