#include "core/device.h"

#include <fcntl.h>
#include <rewind/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <uapi/rewind.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/writer.h"

namespace rwd {

namespace {

[[noreturn]] void sys_fail(const std::string &what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

void check_abi_versions(const std::string &path, uint32_t abi, uint32_t format) {
  if (abi == REWIND_ABI_VERSION && format == REWIND_FORMAT_VERSION) return;
  throw std::runtime_error(path + ": the module speaks ABI version " + std::to_string(abi) +
                           " and wire format " + std::to_string(format) +
                           "; this addon was built for ABI version " +
                           std::to_string(REWIND_ABI_VERSION) + " and wire format " +
                           std::to_string(REWIND_FORMAT_VERSION) +
                           " (rebuild the addon or load the matching rewind.ko)");
}

Device::Device(const std::string &path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) sys_fail("cannot open " + path);
  rewind_abi abi{};
  if (::ioctl(fd_, REWIND_IOC_ABI_VERSION, &abi) != 0) {
    const int e = errno;
    ::close(fd_);
    fd_ = -1;
    errno = e;
    sys_fail(path + ": REWIND_IOC_ABI_VERSION");
  }
  abi_ = abi.version;
  format_ = abi.format_version;
  try {
    check_abi_versions(path, abi.version, abi.format_version);
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

Device::~Device() { close(); }

void Device::close() {
  std::lock_guard<std::mutex> g(mu_);
  for (const Map &m : maps_) ::munmap(m.addr, m.len);
  maps_.clear();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool Device::is_open() {
  std::lock_guard<std::mutex> g(mu_);
  return fd_ >= 0;
}

int Device::fd_locked() const {
  if (fd_ < 0) throw std::runtime_error(path_ + ": device is closed");
  return fd_;
}

void Device::ioctl_or_throw(unsigned long req, void *arg, const char *name) const {
  if (::ioctl(fd_locked(), req, arg) != 0) sys_fail(path_ + ": " + name);
}

void Device::configure(const DeviceConfig &c) {
  std::lock_guard<std::mutex> g(mu_);
  rewind_config k{};
  k.subbuf_size = c.subbuf_size;
  k.num_subbufs = c.num_subbufs;
  k.mode = c.mode;
  k.probe_mask = c.probe_mask;
  if (c.hostname.size() >= sizeof k.hostname)
    throw std::invalid_argument("hostname longer than " + std::to_string(sizeof k.hostname - 1) +
                                " bytes");
  std::memcpy(k.hostname, c.hostname.data(), c.hostname.size());
  ioctl_or_throw(REWIND_IOC_CONFIGURE, &k, "REWIND_IOC_CONFIGURE");
}

void Device::command(unsigned long req, const char *name) {
  std::lock_guard<std::mutex> g(mu_);
  ioctl_or_throw(req, nullptr, name);
}

void Device::start() { command(REWIND_IOC_START, "REWIND_IOC_START"); }
void Device::stop() { command(REWIND_IOC_STOP, "REWIND_IOC_STOP"); }
void Device::statedump() { command(REWIND_IOC_STATEDUMP, "REWIND_IOC_STATEDUMP"); }
void Device::flush() { command(REWIND_IOC_FLUSH, "REWIND_IOC_FLUSH"); }

DeviceInfo Device::info() {
  std::lock_guard<std::mutex> g(mu_);
  rewind_info k{};
  ioctl_or_throw(REWIND_IOC_GET_INFO, &k, "REWIND_IOC_GET_INFO");
  DeviceInfo i;
  i.abi_version = k.abi_version;
  i.state = k.state;
  i.nr_cpu_ids = k.nr_cpu_ids;
  i.subbuf_size = k.subbuf_size;
  i.num_subbufs = k.num_subbufs;
  i.mode = k.mode;
  i.probe_mask = k.probe_mask;
  i.probe_active = k.probe_active;
  i.mmap_stride = k.mmap_stride;
  i.metadata_len = k.metadata_len;
  i.test_hooks = k.test_hooks;
  return i;
}

CpuStats Device::stats(uint32_t cpu) {
  std::lock_guard<std::mutex> g(mu_);
  rewind_stats k{};
  k.cpu = cpu;
  ioctl_or_throw(REWIND_IOC_GET_STATS, &k, "REWIND_IOC_GET_STATS");
  CpuStats s;
  s.cpu = k.cpu;
  s.online = k.online;
  s.events_written = k.events_written;
  s.bytes_written = k.bytes_written;
  s.lost_full = k.lost_full;
  s.lost_nesting = k.lost_nesting;
  s.lost_wrap = k.lost_wrap;
  s.lost_too_big = k.lost_too_big;
  s.packets_overwritten = k.packets_overwritten;
  s.subbuf_switches = k.subbuf_switches;
  s.oldest_timestamp = k.oldest_timestamp;
  s.write_pos = k.write_pos;
  s.consumed_pos = k.consumed_pos;
  return s;
}

std::string Device::metadata(bool remeasure) {
  std::lock_guard<std::mutex> g(mu_);
  std::string text;
  uint32_t flags = remeasure ? REWIND_METADATA_REMEASURE : 0;
  // Ask for the size, then copy; retry if it grew in between (a re-measure regenerates it).
  for (int attempt = 0; attempt < 4; attempt++) {
    rewind_metadata k{};
    k.addr = reinterpret_cast<uintptr_t>(text.data());
    k.len = text.size();
    k.flags = flags;
    ioctl_or_throw(REWIND_IOC_GET_METADATA, &k, "REWIND_IOC_GET_METADATA");
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

void Device::prepare(bool statedump) {
  std::lock_guard<std::mutex> g(mu_);
  rewind_prepare k{};
  k.flags = statedump ? 0 : REWIND_PREPARE_NO_STATEDUMP;
  ioctl_or_throw(REWIND_IOC_SNAPSHOT_PREPARE, &k, "REWIND_IOC_SNAPSHOT_PREPARE");
}

SnapshotCpu Device::snapshot_cpu(uint32_t cpu, uint8_t *buf, uint64_t len, bool consume) {
  std::lock_guard<std::mutex> g(mu_);
  rewind_snapshot k{};
  k.cpu = cpu;
  k.flags = consume ? REWIND_SNAPSHOT_CONSUME : 0;
  k.addr = reinterpret_cast<uintptr_t>(buf);
  k.len = len;
  ioctl_or_throw(REWIND_IOC_SNAPSHOT_CPU, &k, "REWIND_IOC_SNAPSHOT_CPU");
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

SnapshotResult Device::snapshot(const std::string &dir, const SnapshotOptions &o) {
  SnapshotResult r;
  r.dir = dir;
  const DeviceInfo inf = info();
  if (inf.state == REWIND_STATE_EMPTY) throw std::runtime_error(path_ + ": not configured");
  prepare(o.statedump);
  make_dirs(dir);
  const std::string meta = metadata(o.remeasure);
  write_file(dir + "/metadata", meta);
  r.metadata_bytes = meta.size();
  const size_t len = size_t(inf.mmap_stride);
  std::vector<uint8_t> fallback;  // for filesystems that cannot map a file shared (9p, FUSE)
  for (uint32_t cpu = 0; cpu < inf.nr_cpu_ids; cpu++) {
    const CpuStats st = stats(cpu);
    if (!st.online && st.write_pos == 0) continue;
    const std::string file = dir + "/stream_" + std::to_string(cpu);
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) sys_fail("cannot create " + file);
    void *map = MAP_FAILED;
    SnapshotCpu s;
    try {
      if (::ftruncate(fd, off_t(len)) == 0)
        map = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (map != MAP_FAILED) {
        // One copy: the kernel writes the packets straight into the file's page cache.
        s = snapshot_cpu(cpu, static_cast<uint8_t *>(map), len, o.consume);
        ::munmap(map, len);
        map = MAP_FAILED;
        if (::ftruncate(fd, off_t(s.bytes)) != 0) sys_fail("cannot size " + file);
      } else {
        if (::ftruncate(fd, 0) != 0) sys_fail("cannot size " + file);
        fallback.resize(len);
        s = snapshot_cpu(cpu, fallback.data(), len, o.consume);
        for (uint64_t done = 0; done < s.bytes;) {
          const ssize_t n = ::write(fd, fallback.data() + done, size_t(s.bytes - done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) sys_fail("cannot write " + file);
          done += uint64_t(n);
        }
      }
    } catch (...) {
      if (map != MAP_FAILED) ::munmap(map, len);
      ::close(fd);
      ::unlink(file.c_str());
      throw;
    }
    if (::close(fd) != 0) sys_fail("cannot write " + file);
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
  const DeviceInfo inf = info();
  std::lock_guard<std::mutex> g(mu_);
  if (cpu >= inf.nr_cpu_ids)
    throw std::invalid_argument("cpu " + std::to_string(cpu) + " >= nr_cpu_ids " +
                                std::to_string(inf.nr_cpu_ids));
  const size_t len = size_t(inf.subbuf_size) * inf.num_subbufs;
  if (!len) throw std::runtime_error(path_ + ": not configured");
  void *m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_locked(), off_t(cpu * inf.mmap_stride));
  if (m == MAP_FAILED) sys_fail(path_ + ": mmap of cpu " + std::to_string(cpu));
  maps_.push_back({m, len});
  std::vector<uint8_t> out(static_cast<const uint8_t *>(m), static_cast<const uint8_t *>(m) + len);
  ::munmap(m, len);
  maps_.pop_back();
  return out;
}

uint64_t Device::test(uint32_t op, uint64_t count, uint32_t burst, uint64_t period_ns) {
  std::lock_guard<std::mutex> g(mu_);
  rewind_test k{};
  k.op = op;
  k.count = count;
  k.burst = burst;
  k.period_ns = period_ns;
  ioctl_or_throw(REWIND_IOC_TEST, &k, "REWIND_IOC_TEST");
  return k.emitted;
}

}  // namespace rwd
