// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ABI layer: /dev/rewind, its open policy, the ioctls of
 * include/uapi/rewind.h and a read-only mmap of each CPU's ring. It only
 * decodes: each command copies its argument in, checks the ABI's rules
 * (reserved space zero, known flags), calls the session layer (session.c)
 * and copies the result out. It never takes rewind_mutex.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "rewind.h"

/* The counter table of uapi/rewind.h is the struct, field for field. */
#define REWIND_STATS_CHECK(field, help) \
	REWIND_STATS_CHECK_ONE(static_assert, field);
REWIND_STATS_COUNTERS(REWIND_STATS_CHECK)
REWIND_STATS_CHECK_SIZE(static_assert);

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

static long rewind_ioctl_abi_version(struct file *file, void __user *arg)
{
	struct rewind_abi abi = {
		.version = REWIND_ABI_VERSION,
		.format_version = REWIND_FORMAT_VERSION,
	};

	return copy_to_user(arg, &abi, sizeof(abi)) ? -EFAULT : 0;
}

static long rewind_ioctl_configure(struct file *file, void __user *arg)
{
	struct rewind_config cfg;

	if (copy_from_user(&cfg, arg, sizeof(cfg)))
		return -EFAULT;
	return rewind_session_configure(&cfg);
}

static long rewind_ioctl_start(struct file *file, void __user *arg)
{
	return rewind_session_start();
}

static long rewind_ioctl_stop(struct file *file, void __user *arg)
{
	return rewind_session_stop();
}

static long rewind_ioctl_statedump(struct file *file, void __user *arg)
{
	return rewind_session_statedump();
}

static long rewind_ioctl_flush(struct file *file, void __user *arg)
{
	return rewind_session_flush();
}

static long rewind_ioctl_get_info(struct file *file, void __user *arg)
{
	struct rewind_info info;
	int ret;

	memset(&info, 0, sizeof(info));
	ret = rewind_session_info(&info);
	if (ret)
		return ret;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long rewind_ioctl_get_stats(struct file *file, void __user *arg)
{
	struct rewind_stats st;
	int ret;

	/* Only cpu is input: the rest of the struct is not read. */
	if (get_user(st.cpu, (u32 __user *)arg))
		return -EFAULT;
	ret = rewind_session_stats(&st);
	if (ret)
		return ret;
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rewind_ioctl_get_metadata(struct file *file, void __user *arg)
{
	struct rewind_metadata md;
	char *text;
	int ret;

	if (copy_from_user(&md, arg, sizeof(md)))
		return -EFAULT;
	if ((md.flags & ~REWIND_METADATA_REMEASURE) || md.reserved0 ||
	    memchr_inv(md.reserved, 0, sizeof(md.reserved)))
		return -EINVAL;
	/* Observers may read the metadata, not change it. */
	if ((md.flags & REWIND_METADATA_REMEASURE) &&
	    !(file->f_mode & FMODE_WRITE))
		return -EPERM;
	ret = rewind_session_metadata(&md, &text);
	if (ret)
		return ret;
	/* A private copy: no lock is held while user memory faults. */
	if (text) {
		ret = copy_to_user(u64_to_user_ptr(md.addr), text, md.size) ?
		      -EFAULT : 0;
		kvfree(text);
		if (ret)
			return ret;
	}
	return copy_to_user(arg, &md, sizeof(md)) ? -EFAULT : 0;
}

static long rewind_ioctl_snapshot_prepare(struct file *file, void __user *arg)
{
	struct rewind_prepare p;

	if (copy_from_user(&p, arg, sizeof(p)))
		return -EFAULT;
	if ((p.flags & ~REWIND_PREPARE_NO_STATEDUMP) || p.reserved0 ||
	    memchr_inv(p.reserved, 0, sizeof(p.reserved)))
		return -EINVAL;
	return rewind_session_prepare(&p);
}

static long rewind_ioctl_snapshot_cpu(struct file *file, void __user *arg)
{
	struct rewind_snapshot req;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	ret = rewind_session_snapshot(&req);
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long rewind_ioctl_test(struct file *file, void __user *arg)
{
	struct rewind_test req;
	long ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (memchr_inv(req.reserved, 0, sizeof(req.reserved)))
		return -EINVAL;
	/* Emitters take no lock, so snapshots run meanwhile. */
	if (req.op == REWIND_TEST_EMIT)
		ret = rewind_test_emit(&req);
	else
		ret = rewind_session_test_timers(&req);
	if (ret)
		return ret;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

/* Allowed on a read-only descriptor; every other command needs a writer. */
#define REWIND_IOCTL_OBSERVER	BIT(0)

struct rewind_ioctl_def {
	unsigned int cmd;	/* full number: size and direction included */
	unsigned int flags;	/* REWIND_IOCTL_* */
	long (*func)(struct file *file, void __user *arg);
};

#define REWIND_IOCTL_DEF(ioctl, fn, fl)				\
	[_IOC_NR(REWIND_IOC_##ioctl)] = {				\
		.cmd = REWIND_IOC_##ioctl, .flags = (fl), .func = (fn)	\
	}

/* Indexed by command number; a number absent here is unknown. */
static const struct rewind_ioctl_def rewind_ioctls[] = {
	REWIND_IOCTL_DEF(ABI_VERSION, rewind_ioctl_abi_version,
			 REWIND_IOCTL_OBSERVER),
	REWIND_IOCTL_DEF(CONFIGURE, rewind_ioctl_configure, 0),
	REWIND_IOCTL_DEF(START, rewind_ioctl_start, 0),
	REWIND_IOCTL_DEF(STOP, rewind_ioctl_stop, 0),
	REWIND_IOCTL_DEF(STATEDUMP, rewind_ioctl_statedump, 0),
	REWIND_IOCTL_DEF(FLUSH, rewind_ioctl_flush, 0),
	REWIND_IOCTL_DEF(GET_INFO, rewind_ioctl_get_info,
			 REWIND_IOCTL_OBSERVER),
	REWIND_IOCTL_DEF(GET_STATS, rewind_ioctl_get_stats,
			 REWIND_IOCTL_OBSERVER),
	/* Observers may not REMEASURE: checked by the command. */
	REWIND_IOCTL_DEF(GET_METADATA, rewind_ioctl_get_metadata,
			 REWIND_IOCTL_OBSERVER),
	REWIND_IOCTL_DEF(SNAPSHOT_PREPARE, rewind_ioctl_snapshot_prepare, 0),
	REWIND_IOCTL_DEF(SNAPSHOT_CPU, rewind_ioctl_snapshot_cpu, 0),
	REWIND_IOCTL_DEF(TEST, rewind_ioctl_test, REWIND_IOCTL_OBSERVER),
};

static long rewind_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	const struct rewind_ioctl_def *def;
	unsigned int nr = _IOC_NR(cmd);

	if (_IOC_TYPE(cmd) != REWIND_IOC_MAGIC ||
	    nr >= ARRAY_SIZE(rewind_ioctls))
		return -ENOTTY;
	def = &rewind_ioctls[array_index_nospec(nr, ARRAY_SIZE(rewind_ioctls))];
	/* A known number with another size or direction is unknown too. */
	if (!def->func || def->cmd != cmd)
		return -ENOTTY;
	if (!(file->f_mode & FMODE_WRITE) &&
	    !(def->flags & REWIND_IOCTL_OBSERVER))
		return -EPERM;
	return def->func(file, (void __user *)arg);
}

/*
 * Read-only and never executable: no VM_WRITE or VM_EXEC now, and
 * mprotect() cannot add them later (the rings hold bytes the kernel wrote
 * from what any process did).
 */
static int rewind_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
#ifdef REWIND_HAVE_VM_FLAGS_MOD	/* Kbuild feature test */
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP,
		     VM_MAYWRITE | VM_MAYEXEC);
#else
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
	vma->vm_flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
#endif
	return rewind_session_mmap(vma);
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
