// /dev/rewind from userspace: ABI check, every ioctl, read-only mmap of the rings, and a snapshot
// written to a directory (metadata + one stream file per CPU). Pure C++ (no N-API). Info and
// statistics are the UAPI structs themselves (struct rewind_info, struct rewind_stats), as
// lttng-tools' kernctl_* hand them out: no copy of their fields to keep in step.
//
// One serial owner: every public method holds the device's mutex for its whole duration, the
// snapshot included (its steps are private *_locked helpers), so no configure(), start() or
// close() lands between a snapshot's prepare and its last CPU. A call that finds the device
// owned by a running snapshot (the binding runs snapshots in a worker thread) does not wait: it
// throws SysError EBUSY at once, so the JavaScript thread never blocks for a snapshot's length.
// Two calls wait instead: snapshot() (snapshots queue behind each other, and a quick call that
// holds the lock for an ioctl must not fail a snapshot) and close() (it lets a running snapshot
// finish, then unmaps and closes).
// Failed system calls and ioctls throw SysError (errno, call, path).
#pragma once

#include <uapi/rewind.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace rwd {

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

// The module speaks another ABI or wire-format version than this build.
class AbiMismatch : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws AbiMismatch naming both versions unless they are the ones this build speaks.
void check_abi_versions(const std::string &path, uint32_t abi, uint32_t format);

class Device {
 public:
  // Opens the device and checks its ABI and wire-format versions: a mismatch throws an error
  // naming both versions.
  explicit Device(const std::string &path);
  ~Device();
  Device(const Device &) = delete;
  Device &operator=(const Device &) = delete;

  void close();  // waits for a running snapshot, unmaps and closes; later calls throw EBADF
  bool is_open() const { return fd_ >= 0; }  // never waits
  const std::string &path() const { return path_; }
  uint32_t abi_version() const { return abi_; }
  uint32_t format_version() const { return format_; }

  void configure(const DeviceConfig &c);
  void start();
  void stop();
  void statedump();
  void flush();
  rewind_info info();
  rewind_stats stats(uint32_t cpu);
  std::string metadata(bool remeasure);
  // prepare, metadata, then each possible CPU's packets copied by the kernel straight into a
  // mapping of its stream file (one copy: ring to page cache). Owns the device throughout.
  SnapshotResult snapshot(const std::string &dir, const SnapshotOptions &o);
  // The CPU's ring, mapped read-only (shared with the kernel; it changes under the reader).
  // Copied into out, because a mapping handed to JavaScript could outlive close().
  std::vector<uint8_t> read_ring(uint32_t cpu);
  // REWIND_IOC_TEST (module loaded with test_hooks=1): returns `emitted`.
  uint64_t test(uint32_t op, uint64_t count, uint32_t burst, uint64_t period_ns);

 private:
  // The device's lock, or SysError EBUSY (syscall = `what`) if a snapshot owns the device.
  std::unique_lock<std::mutex> own(const char *what);
  int fd_locked() const;
  void command(unsigned long req, const char *name);  // an ioctl without argument
  void ioctl_locked(unsigned long req, void *arg, const char *name) const;
  rewind_info info_locked();
  rewind_stats stats_locked(uint32_t cpu);
  std::string metadata_locked(bool remeasure);
  void prepare_locked(bool statedump);
  // Copies CPU cpu's complete packets into buf (REWIND_IOC_SNAPSHOT_CPU).
  SnapshotCpu snapshot_cpu_locked(uint32_t cpu, uint8_t *buf, uint64_t len, bool consume);
  SnapshotCpu snapshot_file_locked(uint32_t cpu, const std::string &file, size_t len, bool consume,
                                   std::vector<uint8_t> &fallback);
  std::mutex mu_;
  std::string path_;
  std::atomic<int> fd_{-1};  // written under mu_; read without it by is_open()
  uint32_t abi_ = 0, format_ = 0;
  struct Map {
    void *addr;
    size_t len;
  };
  std::vector<Map> maps_;
};

}  // namespace rwd
