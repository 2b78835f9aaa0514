/**
 * The device list and the ListAndWatch streams it goes to. Each stream gets the current list as
 * soon as it opens and the whole list again whenever the device node appears or disappears;
 * nothing here ever ends a stream (the kubelet reads the end of ListAndWatch as the plugin going
 * away). Knows nothing of gRPC: a stream is anything with `write`.
 */
import { advertisedDevices } from './devices';
import type { ListAndWatchResponse } from './messages';

export interface ListSink {
  write(message: ListAndWatchResponse): unknown;
}

export class DeviceAdvertiser {
  private present: boolean | undefined;
  private readonly sinks = new Set<ListSink>();

  constructor(private readonly ids: readonly string[]) {}

  /** Whether the device node was there at the last update; undefined before the first. */
  get devicePresent(): boolean | undefined {
    return this.present;
  }

  get streams(): number {
    return this.sinks.size;
  }

  /** Records the device's presence; on a change, sends the new list to every stream. */
  update(present: boolean): boolean {
    if (present === this.present) return false;
    this.present = present;
    const message = this.message();
    for (const sink of this.sinks) sink.write(message);
    return true;
  }

  /** A new stream: it gets the current list at once. Call update() first. */
  add(sink: ListSink): void {
    this.sinks.add(sink);
    sink.write(this.message());
  }

  remove(sink: ListSink): void {
    this.sinks.delete(sink);
  }

  private message(): ListAndWatchResponse {
    return { devices: advertisedDevices(this.ids, this.present === true) };
  }
}
