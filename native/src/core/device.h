// /dev/rewind from userspace: ABI check, every ioctl, read-only mmap of the rings, and a snapshot
// written to a directory (metadata + one stream file per CPU). Pure C++ (no N-API): the binding
// runs the slow calls in worker threads, so every public method is serialized by a mutex and
// close() may race with them safely.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace rwd {

struct DeviceInfo {
  uint32_t abi_version = 0, state = 0, nr_cpu_ids = 0, subbuf_size = 0, num_subbufs = 0, mode = 0;
  uint64_t probe_mask = 0, probe_active = 0, mmap_stride = 0, metadata_len = 0, test_hooks = 0;
};

struct CpuStats {
  uint32_t cpu = 0, online = 0;
  uint64_t events_written = 0, bytes_written = 0, lost_full = 0, lost_nesting = 0, lost_wrap = 0,
           lost_too_big = 0, packets_overwritten = 0, subbuf_switches = 0, oldest_timestamp = 0,
           write_pos = 0, consumed_pos = 0;
};

struct DeviceConfig {
  uint32_t subbuf_size = 0;  // 0: the module's default
  uint32_t num_subbufs = 0;
  uint32_t mode = 0;  // enum rewind_mode
  uint64_t probe_mask = 0;
  std::string hostname;  // "" = the kernel's nodename
};

struct SnapshotCpu {
  uint32_t cpu = 0;
  uint64_t bytes = 0, packets = 0, skipped = 0, first_seq = 0, last_seq = 0;
  std::string file;  // "" if the CPU had no complete packet
};

struct SnapshotResult {
  std::string dir;
  uint64_t bytes = 0, packets = 0, skipped = 0, metadata_bytes = 0;
  std::vector<SnapshotCpu> cpus;
};

struct SnapshotOptions {
  bool statedump = true;   // dump process/irq/cpu state into the rings first
  bool remeasure = false;  // re-measure the clock offset for the metadata
  bool consume = false;    // discard mode: free what was copied
};

// Throws the error naming both versions unless they are the ones this build speaks.
void check_abi_versions(const std::string &path, uint32_t abi, uint32_t format);

class Device {
 public:
  // Opens the device and checks its ABI and wire-format versions: a mismatch throws an error
  // naming both versions.
  explicit Device(const std::string &path);
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  void close();  // unmaps and closes; later calls throw "closed"
  bool is_open();
  const std::string &path() const { return path_; }
  uint32_t abi_version() const { return abi_; }
  uint32_t format_version() const { return format_; }

  void configure(const DeviceConfig &c);
  void start();
  void stop();
  void statedump();
  void flush();
  DeviceInfo info();
  CpuStats stats(uint32_t cpu);
  std::string metadata(bool remeasure);
  void prepare(bool statedump);
  // Copies CPU cpu's complete packets into buf (REWIND_IOC_SNAPSHOT_CPU).
  SnapshotCpu snapshot_cpu(uint32_t cpu, uint8_t *buf, uint64_t len, bool consume);
  // prepare, metadata, then each possible CPU's packets copied by the kernel straight into a
  // mapping of its stream file (one copy: ring to page cache).
  SnapshotResult snapshot(const std::string &dir, const SnapshotOptions &o);
  // The CPU's ring, mapped read-only (shared with the kernel; it changes under the reader).
  // Copied into out, because a mapping handed to JavaScript could outlive close().
  std::vector<uint8_t> read_ring(uint32_t cpu);
  // REWIND_IOC_TEST (module loaded with test_hooks=1): returns `emitted`.
  uint64_t test(uint32_t op, uint64_t count, uint32_t burst, uint64_t period_ns);

 private:
  int fd_locked() const;
  void command(unsigned long req, const char *name);  // an ioctl without argument
  void ioctl_or_throw(unsigned long req, void *arg, const char *name) const;
  std::mutex mu_;
  std::string path_;
  int fd_ = -1;
  uint32_t abi_ = 0, format_ = 0;
  struct Map {
    void *addr;
    size_t len;
  };
  std::vector<Map> maps_;
};

}  // namespace rwd
