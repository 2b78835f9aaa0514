/**
 * An informer that keeps going: client-node's ListWatch (its cache and add/update/delete
 * callbacks) plus the restarts it does not do itself, a readiness flag and one event handler
 * shape.
 *
 * What client-node 1.4's ListWatch does (dist/cache.js, dist/watch.js, read for this file):
 * - a watch that ends cleanly (the API server closes it after its request timeout) is re-opened
 *   at once from the last resourceVersion seen, without a relist;
 * - 410 Gone, either as the watch request's HTTP status or as an ERROR event in the stream
 *   (the resourceVersion was compacted away), clears the resourceVersion, so the next start
 *   relists; the relist calls `delete` for every cached object the new list lacks (nothing
 *   deleted meanwhile is missed) and `add`/`update` for the others;
 * - any other failure (the list call, the watch request, a broken connection) calls the
 *   `error` callbacks and STOPS: nothing restarts it. Its watch also sets no timeout of its own.
 * So this wrapper restarts after every error, waiting the capped exponential backoff of
 * common/backoff.ts (reset after a start that lists/watches without error). Restarting keeps the
 * last resourceVersion, so a restart after a network blip re-watches; if that version is gone
 * the API server answers 410 and the restart after it relists.
 *
 * `synced()` turns true after the first start that listed and opened its watch (client-go's
 * HasSynced) and stays true:
 * the cache is still the best knowledge across a restart. Resync (re-handling every cached
 * object periodically) is the reconciler's, through its queue.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from '@kubernetes/client-node';
import { backoffDelay, type BackoffOptions } from '../../common/backoff';
import { oneLine } from '../../common/errors';
import type { Clock } from '../reconcile/clock';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T) => void;

/** The part of a pino logger the informer uses. */
export interface InformerLog {
  warn(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
}

/** Any object the API server lists (typed client objects, or a custom resource's plain JSON). */
export type ListedObject = object;

export interface InformerOptions<T extends ListedObject> {
  /** For logs: "tracesnapshots", "nodes", … */
  name: string;
  kc: KubeConfig;
  /** The watch path, e.g. /api/v1/pods or /api/v1/namespaces/NS/pods. */
  path: string;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  clock: Clock;
  log: InformerLog;
  /** Default 1 s doubling to 5 min (client-go's reflector backs off to about the same). */
  backoff?: BackoffOptions;
}

export const INFORMER_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 300_000 };

export class Informer<T extends ListedObject> {
  // client-node types its cache with its own object type; ours are the same JSON objects.
  private readonly inner: ReturnType<typeof makeInformer<KubernetesObject>>;
  private readonly handlers: InformerHandler<T>[] = [];
  private hasSynced = false;
  private running = false;
  private failures = 0;
  private erroredThisStart = false;
  private cancelRestart: (() => void) | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    const { kc, path, labelSelector } = options;
    const list = options.list as unknown as () => Promise<KubernetesListObject<KubernetesObject>>;
    this.inner = makeInformer<KubernetesObject>(kc, path, list, labelSelector);
    this.inner.on('add', (o) => this.emit('add', o as T));
    this.inner.on('update', (o) => this.emit('update', o as T));
    this.inner.on('delete', (o) => this.emit('delete', o as T));
    this.inner.on('error', (e) => this.failed(e));
  }

  /** Calls `handler` for every add, update and delete (objects already cached are not replayed). */
  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves after the first attempt (synced or not). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.attempt();
  }

  stop(): Promise<void> {
    this.running = false;
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    return this.inner.stop();
  }

  /** True once a full list has been cached. */
  synced(): boolean {
    return this.hasSynced;
  }

  /** The cached object (cluster-scoped objects: no namespace). */
  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace) as T | undefined;
  }

  /** Cached objects, of one namespace or all. */
  list(namespace?: string): T[] {
    return [...this.inner.list(namespace)] as T[];
  }

  private async attempt(): Promise<void> {
    this.erroredThisStart = false;
    // start() resolves once the list is cached and the watch is open, or after an error.
    await this.inner.start();
    if (this.erroredThisStart || !this.running) return;
    this.failures = 0;
    if (!this.hasSynced) this.options.log.info({ informer: this.options.name }, 'informer synced');
    this.hasSynced = true;
  }

  private failed(error: unknown): void {
    this.erroredThisStart = true;
    if (!this.running) return;
    const delayMs = backoffDelay(this.failures++, this.options.backoff ?? INFORMER_BACKOFF);
    this.options.log.warn(
      { informer: this.options.name, delayMs, err: oneLine(error) },
      'informer failed; restarting after backoff',
    );
    this.cancelRestart?.();
    this.cancelRestart = this.options.clock.after(delayMs, () => {
      this.cancelRestart = undefined;
      if (this.running) void this.attempt();
    });
  }

  private emit(event: InformerEvent, obj: T): void {
    for (const h of this.handlers) h(event, obj);
  }
}
