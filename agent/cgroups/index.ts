/**
 * Node-local container facts: the cgroup ids the module reports → cgroup paths → pods and
 * containers (issue 9, item 6). See README.md in this folder for the layout read and the limits.
 */
export {
  containerOfCgroupPath,
  type CgroupDriver,
  type CgroupKind,
  type ContainerRef,
  type ContainerRuntime,
  type QosClass,
} from './container-path';
export {
  DEFAULT_SCAN_LIMITS,
  nodeCgroupFs,
  scanCgroups,
  type CgroupFs,
  type CgroupScan,
  type CgroupVersion,
  type ScanLimits,
  type ScannedCgroup,
} from './scan';
export {
  CgroupTracker,
  DEFAULT_MAX_TRACKED_CGROUPS,
  type CgroupFact,
  type CgroupFacts,
  type CgroupTrackerOptions,
} from './tracker';
export {
  CgroupRefresher,
  SUGGESTED_SCAN_INTERVAL_MS,
  type CgroupRefresherOptions,
  type RefresherTimers,
} from './refresher';
