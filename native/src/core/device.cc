#include "core/device.h"

#include <fcntl.h>
#include <rewind/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "core/sys_error.h"
#include "core/writer.h"

// The counter table of the UAPI header matches struct rewind_stats, field by field, and covers
// every counter up to the reserved space: the binding and the TypeScript front iterate the table.
#define RWD_STATS_CHECK(field, help) REWIND_STATS_CHECK_ONE(static_assert, field);
REWIND_STATS_COUNTERS(RWD_STATS_CHECK)
#undef RWD_STATS_CHECK
REWIND_STATS_CHECK_SIZE(static_assert);

namespace rwd {

void check_abi_versions(const std::string &path, uint32_t abi, uint32_t format) {
  if (abi == REWIND_ABI_VERSION && format == REWIND_FORMAT_VERSION) return;
  throw AbiMismatch(path + ": the module speaks ABI version " + std::to_string(abi) +
                    " and wire format " + std::to_string(format) +
                    "; this addon was built for ABI version " + std::to_string(REWIND_ABI_VERSION) +
                    " and wire format " + std::to_string(REWIND_FORMAT_VERSION) +
                    " (rebuild the addon or load the matching rewind.ko)");
}

Device::Device(const std::string &path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw_sys("open", path, "cannot open " + path);
  rewind_abi abi{};
  if (::ioctl(fd, REWIND_IOC_ABI_VERSION, &abi) != 0) {
    const int e = errno;
    ::close(fd);
    throw SysError(e, "REWIND_IOC_ABI_VERSION", path, path + ": REWIND_IOC_ABI_VERSION");
  }
  abi_ = abi.version;
  format_ = abi.format_version;
  try {
    check_abi_versions(path, abi.version, abi.format_version);
  } catch (...) {
    ::close(fd);
    throw;
  }
  fd_ = fd;
}

Device::~Device() { close(); }

void Device::close() {
  const std::lock_guard<std::mutex> lock(mu_);  // waits for a running snapshot
  for (const Map &m : maps_) ::munmap(m.addr, m.len);
  maps_.clear();
  const int fd = fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

std::unique_lock<std::mutex> Device::own(const char *what) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock())
    throw SysError(EBUSY, what, path_, path_ + ": " + what + ": a snapshot owns the device");
  return lock;
}

int Device::fd_locked() const {
  if (fd_ < 0) throw SysError(EBADF, "", path_, path_ + ": the device is closed");
  return fd_;
}

void Device::ioctl_locked(unsigned long req, void *arg, const char *name) const {
  const int fd = fd_locked();
  if (::ioctl(fd, req, arg) != 0) throw_sys(name, path_, path_ + ": " + name);
}

void Device::configure(const DeviceConfig &c) {
  const auto lock = own("REWIND_IOC_CONFIGURE");
  rewind_config k{};
  k.subbuf_size = c.subbuf_size;
  k.num_subbufs = c.num_subbufs;
  k.mode = c.mode;
  k.probe_mask = c.probe_mask;
  if (c.hostname.size() >= sizeof k.hostname)
    throw std::invalid_argument("hostname longer than " + std::to_string(sizeof k.hostname - 1) +
                                " bytes");
  std::memcpy(k.hostname, c.hostname.data(), c.hostname.size());
  ioctl_locked(REWIND_IOC_CONFIGURE, &k, "REWIND_IOC_CONFIGURE");
}

void Device::command(unsigned long req, const char *name) {
  const auto lock = own(name);
  ioctl_locked(req, nullptr, name);
}

void Device::start() { command(REWIND_IOC_START, "REWIND_IOC_START"); }
void Device::stop() { command(REWIND_IOC_STOP, "REWIND_IOC_STOP"); }
void Device::statedump() { command(REWIND_IOC_STATEDUMP, "REWIND_IOC_STATEDUMP"); }
void Device::flush() { command(REWIND_IOC_FLUSH, "REWIND_IOC_FLUSH"); }

rewind_info Device::info() {
  const auto lock = own("REWIND_IOC_GET_INFO");
  return info_locked();
}

rewind_info Device::info_locked() {
  rewind_info k{};
  ioctl_locked(REWIND_IOC_GET_INFO, &k, "REWIND_IOC_GET_INFO");
  return k;
}

rewind_stats Device::stats(uint32_t cpu) {
  const auto lock = own("REWIND_IOC_GET_STATS");
  return stats_locked(cpu);
}

rewind_stats Device::stats_locked(uint32_t cpu) {
  rewind_stats k{};
  k.cpu = cpu;
  ioctl_locked(REWIND_IOC_GET_STATS, &k, "REWIND_IOC_GET_STATS");
  return k;
}

std::string Device::metadata(bool remeasure) {
  const auto lock = own("REWIND_IOC_GET_METADATA");
  return metadata_locked(remeasure);
}

std::string Device::metadata_locked(bool remeasure) {
  std::string text;
  uint32_t flags = remeasure ? REWIND_METADATA_REMEASURE : 0;
  // Ask for the size, then copy; retry if it grew in between (a re-measure regenerates it).
  for (int attempt = 0; attempt < 4; attempt++) {
    rewind_metadata k{};
    k.addr = reinterpret_cast<uintptr_t>(text.data());
    k.len = text.size();
    k.flags = flags;
    ioctl_locked(REWIND_IOC_GET_METADATA, &k, "REWIND_IOC_GET_METADATA");
    flags = 0;
    if (k.size <= text.size()) {
      text.resize(k.size);
      return text;
    }
    if (k.size > (64u << 20)) throw std::runtime_error(path_ + ": metadata larger than 64 MiB");
    text.resize(k.size);
  }
  throw std::runtime_error(path_ + ": metadata kept changing size");
}

void Device::prepare_locked(bool statedump) {
  rewind_prepare k{};
  k.flags = statedump ? 0 : REWIND_PREPARE_NO_STATEDUMP;
  ioctl_locked(REWIND_IOC_SNAPSHOT_PREPARE, &k, "REWIND_IOC_SNAPSHOT_PREPARE");
}

SnapshotCpu Device::snapshot_cpu_locked(uint32_t cpu, uint8_t *buf, uint64_t len, bool consume) {
  rewind_snapshot k{};
  k.cpu = cpu;
  k.flags = consume ? REWIND_SNAPSHOT_CONSUME : 0;
  k.addr = reinterpret_cast<uintptr_t>(buf);
  k.len = len;
  ioctl_locked(REWIND_IOC_SNAPSHOT_CPU, &k, "REWIND_IOC_SNAPSHOT_CPU");
  if (k.bytes > len)
    throw std::runtime_error(path_ + ": snapshot claims more bytes than its buffer");
  SnapshotCpu s;
  s.cpu = cpu;
  s.bytes = k.bytes;
  s.packets = k.packets;
  s.skipped = k.skipped;
  s.first_seq = k.first_seq;
  s.last_seq = k.last_seq;
  return s;
}

// One CPU's packets into its stream file: the kernel writes straight into a shared mapping of the
// file (one copy), or, where the filesystem cannot map shared (9p, FUSE), into `fallback` and
// write() copies on. A failure removes the file.
SnapshotCpu Device::snapshot_file_locked(uint32_t cpu, const std::string &file, size_t len,
                                         bool consume, std::vector<uint8_t> &fallback) {
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_sys("open", file, "cannot create " + file);
  void *map = MAP_FAILED;
  SnapshotCpu s;
  try {
    if (::ftruncate(fd, off_t(len)) == 0)
      map = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      s = snapshot_cpu_locked(cpu, static_cast<uint8_t *>(map), len, consume);
      ::munmap(map, len);
      map = MAP_FAILED;
      if (::ftruncate(fd, off_t(s.bytes)) != 0) throw_sys("ftruncate", file, "cannot size " + file);
    } else {
      if (::ftruncate(fd, 0) != 0) throw_sys("ftruncate", file, "cannot size " + file);
      fallback.resize(len);
      s = snapshot_cpu_locked(cpu, fallback.data(), len, consume);
      for (uint64_t done = 0; done < s.bytes;) {
        const ssize_t n = ::write(fd, fallback.data() + done, size_t(s.bytes - done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("write", file, "cannot write " + file);
        if (n == 0) throw SysError(EIO, "write", file, "cannot write " + file);
        done += uint64_t(n);
      }
    }
  } catch (...) {
    if (map != MAP_FAILED) ::munmap(map, len);
    ::close(fd);
    ::unlink(file.c_str());
    throw;
  }
  if (::close(fd) != 0) throw_sys("close", file, "cannot write " + file);
  return s;
}

SnapshotResult Device::snapshot(const std::string &dir, const SnapshotOptions &o) {
  // Waits rather than refuses: snapshots queue, and a quick call's ioctl never fails one.
  const std::lock_guard<std::mutex> lock(mu_);
  SnapshotResult r;
  r.dir = dir;
  const rewind_info inf = info_locked();
  if (inf.state == REWIND_STATE_EMPTY)
    throw SysError(ENODATA, "REWIND_IOC_SNAPSHOT_PREPARE", path_, path_ + ": not configured");
  prepare_locked(o.statedump);
  make_dirs(dir);
  const std::string meta = metadata_locked(o.remeasure);
  write_file(dir + "/" REWIND_TRACE_METADATA, meta);
  r.metadata_bytes = meta.size();
  const size_t len = size_t(inf.mmap_stride);
  std::vector<uint8_t> fallback;
  for (uint32_t cpu = 0; cpu < inf.nr_cpu_ids; cpu++) {
    const rewind_stats st = stats_locked(cpu);
    if (!st.online && st.write_pos == 0) continue;
    const std::string file = dir + "/" REWIND_TRACE_STREAM_PREFIX + std::to_string(cpu);
    SnapshotCpu s = snapshot_file_locked(cpu, file, len, o.consume, fallback);
    // An empty stream file is not a CTF stream: leave none for a CPU without packets.
    if (s.bytes == 0)
      ::unlink(file.c_str());
    else
      s.file = file;
    r.bytes += s.bytes;
    r.packets += s.packets;
    r.skipped += s.skipped;
    r.cpus.push_back(s);
  }
  return r;
}

std::vector<uint8_t> Device::read_ring(uint32_t cpu) {
  const auto lock = own("mmap");
  const rewind_info inf = info_locked();
  if (cpu >= inf.nr_cpu_ids)
    throw std::invalid_argument("cpu " + std::to_string(cpu) + " >= nr_cpu_ids " +
                                std::to_string(inf.nr_cpu_ids));
  const size_t len = size_t(inf.subbuf_size) * inf.num_subbufs;
  if (!len) throw SysError(ENODATA, "mmap", path_, path_ + ": not configured");
  void *m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_locked(), off_t(cpu * inf.mmap_stride));
  if (m == MAP_FAILED) throw_sys("mmap", path_, path_ + ": mmap of cpu " + std::to_string(cpu));
  maps_.push_back({m, len});
  std::vector<uint8_t> out(static_cast<const uint8_t *>(m), static_cast<const uint8_t *>(m) + len);
  ::munmap(m, len);
  maps_.pop_back();
  return out;
}

uint64_t Device::test(uint32_t op, uint64_t count, uint32_t burst, uint64_t period_ns) {
  const auto lock = own("REWIND_IOC_TEST");
  rewind_test k{};
  k.op = op;
  k.count = count;
  k.burst = burst;
  k.period_ns = period_ns;
  ioctl_locked(REWIND_IOC_TEST, &k, "REWIND_IOC_TEST");
  return k.emitted;
}

}  // namespace rwd
