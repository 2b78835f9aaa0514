/**
 * The Kubernetes calls behind the API's authorization (authorize.ts), over @kubernetes/client-node:
 * a TokenReview and a SubjectAccessReview, made with the controller's own credentials (the chart's
 * ClusterRole grants it `create` on both). Thin I/O: each call has a deadline, so a hung API server
 * is an error (a 503 for the caller) rather than a request that never ends, and each failure is one
 * line — client-node's own message carries the whole response and its headers.
 */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  type ConfigurationOptions,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { z } from 'zod';
import { describeApiError } from '../kube/client';
import type { ReviewClient } from './authorize';

export interface ReviewClientOptions {
  /** Deadline of each review (default 5 s). */
  timeoutMs?: number;
}

const tokenReviewStatus = z.object({
  authenticated: z.boolean().optional(),
  user: z
    .object({
      username: z.string().optional(),
      uid: z.string().optional(),
      groups: z.array(z.string()).optional(),
      extra: z.record(z.string(), z.array(z.string())).optional(),
    })
    .optional(),
  audiences: z.array(z.string()).optional(),
});

const accessReviewStatus = z.object({
  allowed: z.boolean(),
  reason: z.string().optional(),
  evaluationError: z.string().optional(),
});

export function reviewClient(kc: KubeConfig, options: ReviewClientOptions = {}): ReviewClient {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const timeoutMs = options.timeoutMs ?? 5000;

  async function withDeadline<T>(
    what: string,
    call: (o: ConfigurationOptions) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    // A per-request middleware hands the deadline's signal to the fetch (the object API runs
    // observable middleware: client-node's own promise stand-in).
    const deadline: ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(controller.signal);
        return new Observable(Promise.resolve(ctx));
      },
      post: (ctx) => new Observable(Promise.resolve(ctx)),
    };
    const perRequest: ConfigurationOptions = {
      middleware: [deadline],
      middlewareMergeStrategy: 'append',
    };
    try {
      return await call(perRequest);
    } catch (e) {
      if (controller.signal.aborted) throw new Error(`${what} timed out after ${timeoutMs} ms`);
      throw new Error(`${what}: ${describeApiError(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async tokenReview(token, audiences) {
      const review = await withDeadline('TokenReview', (o) =>
        authn.createTokenReview(
          {
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              spec: { token, ...(audiences?.length ? { audiences } : {}) },
            },
          },
          o,
        ),
      );
      const parsed = tokenReviewStatus.safeParse(review.status ?? {});
      if (!parsed.success) throw new Error('TokenReview: the answer has a malformed status');
      const status = parsed.data;
      return {
        authenticated: status.authenticated === true,
        user: status.user?.username
          ? {
              username: status.user.username,
              uid: status.user.uid,
              groups: status.user.groups,
              extra: status.user.extra,
            }
          : undefined,
        audiences: status.audiences,
      };
    },

    async subjectAccessReview(user, groups, uid, extra, attributes) {
      const review = await withDeadline('SubjectAccessReview', (o) =>
        authz.createSubjectAccessReview(
          {
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SubjectAccessReview',
              spec: {
                user,
                groups,
                uid,
                extra,
                resourceAttributes: {
                  verb: attributes.verb,
                  group: attributes.group,
                  resource: attributes.resource,
                  namespace: attributes.namespace,
                  name: attributes.name,
                },
              },
            },
          },
          o,
        ),
      );
      const status = accessReviewStatus.safeParse(review.status);
      if (!status.success) throw new Error('SubjectAccessReview: the answer has no status.allowed');
      return status.data;
    },
  };
}
