// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/rewind: one controlling opener at a time, the ioctl ABI of
 * include/uapi/rewind.h, and a read-only mmap of each CPU's ring.
 */
#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/version.h>
#include "ring.h"

static atomic_t rewind_controllers = ATOMIC_INIT(0);

/*
 * One controlling session: the first opener for writing wins until it
 * closes. Read-only openers may only observe (info, stats, metadata, mmap)
 * and drive the test hooks.
 */
static int rewind_open(struct inode *inode, struct file *file)
{
	if ((file->f_mode & FMODE_WRITE) &&
	    atomic_cmpxchg(&rewind_controllers, 0, 1))
		return -EBUSY;
	return 0;
}

static int rewind_release(struct inode *inode, struct file *file)
{
	/* Pairs with the cmpxchg in rewind_open(). */
	if (file->f_mode & FMODE_WRITE)
		atomic_set_release(&rewind_controllers, 0);
	return 0;
}

int rewind_session_start(struct rewind_session *s)
{
	int ret;

	if (s->tracing)
		return -EBUSY;
	/* The clock offset is measured when tracing starts (and on request). */
	ret = rewind_metadata_build(s, true);
	if (ret)
		return ret;
	/* Published before the probes that read it are registered. */
	rcu_assign_pointer(rewind_active, s);
	ret = rewind_probes_register(s);
	if (ret) {
		RCU_INIT_POINTER(rewind_active, NULL);
		synchronize_rcu();
		return ret;
	}
	s->tracing = true;
	return 0;
}

static void rewind_stop(struct rewind_session *s)
{
	if (!s->tracing)
		return;
	RCU_INIT_POINTER(rewind_active, NULL);
	/* Waits for every probe in flight (tracepoint_synchronize_unregister). */
	rewind_probes_unregister(s);
	s->tracing = false;
}

/* Called with rewind_mutex held, or at module exit. */
void rewind_session_teardown(void)
{
	/* Test timers may run without a session: always stop them. */
	rewind_test_stop();
	if (!rewind_session)
		return;
	rewind_stop(rewind_session);
	rewind_session_destroy(rewind_session);
	rewind_session = NULL;
}

static long rewind_configure(void __user *arg)
{
	struct rewind_config cfg;
	struct rewind_session *s;

	if (copy_from_user(&cfg, arg, sizeof(cfg)))
		return -EFAULT;
	if (rewind_session && rewind_session->tracing)
		return -EBUSY;
	s = rewind_session_create(&cfg);
	if (IS_ERR(s))
		return PTR_ERR(s);
	rewind_session_teardown();
	rewind_session = s;
	return 0;
}

static long rewind_get_info(void __user *arg)
{
	struct rewind_info info;
	struct rewind_session *s = rewind_session;

	memset(&info, 0, sizeof(info));
	info.abi_version = REWIND_ABI_VERSION;
	info.nr_cpu_ids = nr_cpu_ids;
	info.test_hooks = rewind_test_hooks;
	if (s) {
		info.state = s->tracing ? REWIND_STATE_TRACING :
					  REWIND_STATE_CONFIGURED;
		info.subbuf_size = s->sb_size;
		info.num_subbufs = s->nr_sb;
		info.mode = s->mode;
		info.probe_mask = s->probe_mask;
		info.probe_active = s->probe_active;
		info.mmap_stride = s->buf_size;
		info.metadata_len = s->metadata_len;
	}
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long rewind_get_stats(struct rewind_session *s, void __user *arg)
{
	struct rewind_stats st;
	u32 cpu;

	if (get_user(cpu, (u32 __user *)arg))
		return -EFAULT;
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu))
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.cpu = cpu;
	rewind_ring_stats(s, cpu, &st);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rewind_get_metadata(struct file *file, struct rewind_session *s,
				void __user *arg)
{
	struct rewind_metadata md;
	int ret;

	if (copy_from_user(&md, arg, sizeof(md)))
		return -EFAULT;
	if ((md.flags & ~REWIND_METADATA_REMEASURE) || md.reserved0 ||
	    memchr_inv(md.reserved, 0, sizeof(md.reserved)))
		return -EINVAL;
	if (md.flags & REWIND_METADATA_REMEASURE) {
		if (!(file->f_mode & FMODE_WRITE))
			return -EPERM;
		ret = rewind_metadata_build(s, true);
		if (ret)
			return ret;
	}
	md.size = s->metadata_len;
	if (md.len >= s->metadata_len &&
	    copy_to_user(u64_to_user_ptr(md.addr), s->metadata,
			 s->metadata_len))
		return -EFAULT;
	return copy_to_user(arg, &md, sizeof(md)) ? -EFAULT : 0;
}

static long rewind_prepare(struct rewind_session *s, void __user *arg)
{
	struct rewind_prepare p;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if ((p.flags & ~REWIND_PREPARE_NO_STATEDUMP) || p.reserved0 ||
	    memchr_inv(p.reserved, 0, sizeof(p.reserved)))
		return -EINVAL;
	if (!(p.flags & REWIND_PREPARE_NO_STATEDUMP))
		rewind_statedump(s);
	rewind_flush_all(s);
	return 0;
}

static long rewind_snapshot(struct rewind_session *s, void __user *arg)
{
	struct rewind_snapshot req;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	ret = rewind_snapshot_cpu(s, &req);
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long rewind_test(void __user *arg)
{
	struct rewind_test req;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	if (req.op == REWIND_TEST_EMIT) {
		ret = rewind_test_emit(&req);
	} else {
		if (mutex_lock_interruptible(&rewind_mutex))
			return -ERESTARTSYS;
		ret = rewind_test_ioctl(&req);
		mutex_unlock(&rewind_mutex);
	}
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static bool rewind_observer_cmd(unsigned int cmd)
{
	switch (cmd) {
	case REWIND_IOC_ABI_VERSION:
	case REWIND_IOC_GET_INFO:
	case REWIND_IOC_GET_STATS:
	case REWIND_IOC_TEST:
		return true;
	case REWIND_IOC_GET_METADATA:	/* REMEASURE is refused below */
		return true;
	default:
		return false;
	}
}

static long rewind_ioctl_locked(struct file *file, unsigned int cmd,
				void __user *arg)
{
	struct rewind_session *s = rewind_session;

	switch (cmd) {
	case REWIND_IOC_ABI_VERSION: {
		struct rewind_abi abi = {
			.version = REWIND_ABI_VERSION,
			.format_version = REWIND_FORMAT_VERSION,
		};

		return copy_to_user(arg, &abi, sizeof(abi)) ? -EFAULT : 0;
	}
	case REWIND_IOC_CONFIGURE:
		return rewind_configure(arg);
	case REWIND_IOC_GET_INFO:
		return rewind_get_info(arg);
	}
	/* Everything else needs rings. */
	switch (cmd) {
	case REWIND_IOC_START:
	case REWIND_IOC_STOP:
	case REWIND_IOC_STATEDUMP:
	case REWIND_IOC_FLUSH:
	case REWIND_IOC_GET_STATS:
	case REWIND_IOC_GET_METADATA:
	case REWIND_IOC_SNAPSHOT_PREPARE:
	case REWIND_IOC_SNAPSHOT_CPU:
		if (!s)
			return -ENODEV;
		break;
	default:
		return -ENOTTY;
	}
	switch (cmd) {
	case REWIND_IOC_START:
		return rewind_session_start(s);
	case REWIND_IOC_STOP:
		rewind_test_stop();
		rewind_stop(s);
		return 0;
	case REWIND_IOC_STATEDUMP:
		rewind_statedump(s);
		return 0;
	case REWIND_IOC_FLUSH:
		rewind_flush_all(s);
		return 0;
	case REWIND_IOC_GET_STATS:
		return rewind_get_stats(s, arg);
	case REWIND_IOC_GET_METADATA:
		return rewind_get_metadata(file, s, arg);
	case REWIND_IOC_SNAPSHOT_PREPARE:
		return rewind_prepare(s, arg);
	default:
		return rewind_snapshot(s, arg);
	}
}

static long rewind_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	long ret;

	if (_IOC_TYPE(cmd) != REWIND_IOC_MAGIC)
		return -ENOTTY;
	if (!(file->f_mode & FMODE_WRITE) && !rewind_observer_cmd(cmd))
		return -EPERM;
	if (cmd == REWIND_IOC_TEST)
		return rewind_test((void __user *)arg);
	if (mutex_lock_interruptible(&rewind_mutex))
		return -ERESTARTSYS;
	ret = rewind_ioctl_locked(file, cmd, (void __user *)arg);
	mutex_unlock(&rewind_mutex);
	return ret;
}

/*
 * mmap offset n * mmap_stride + x maps CPU n's ring from byte x, read-only.
 * The pages hold their own references, so a mapping outliving a
 * reconfigure keeps stale data, never freed memory.
 */
static int rewind_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct rewind_session *s;
	unsigned long pages, cpu, pgoff, len = vma->vm_end - vma->vm_start;
	int ret = -EINVAL;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	mutex_lock(&rewind_mutex);
	s = rewind_session;
	if (!s) {
		ret = -ENODEV;
		goto out_unlock;
	}
	pages = s->buf_size >> PAGE_SHIFT;
	cpu = vma->vm_pgoff / pages;
	pgoff = vma->vm_pgoff % pages;
	if (cpu >= nr_cpu_ids || !cpu_possible(cpu))
		goto out_unlock;
	if (len > s->buf_size || (len >> PAGE_SHIFT) > pages - pgoff)
		goto out_unlock;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYWRITE);
#else
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~VM_MAYWRITE;
#endif
	ret = remap_vmalloc_range(vma, s->rings[cpu]->mem, pgoff);
out_unlock:
	mutex_unlock(&rewind_mutex);
	return ret;
}

static const struct file_operations rewind_fops = {
	.owner = THIS_MODULE,
	.open = rewind_open,
	.release = rewind_release,
	.unlocked_ioctl = rewind_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = rewind_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice rewind_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rewind",
	.fops = &rewind_fops,
	.mode = 0600,
};

int rewind_device_init(void)
{
	return misc_register(&rewind_misc);
}

void rewind_device_exit(void)
{
	misc_deregister(&rewind_misc);
}
