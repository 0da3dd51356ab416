/**
 * A tiny in-process publish/subscribe for the review's event stream (SSE). Bounded: at most
 * `maxSubscribers` listeners (each is an open browser tab); a throwing listener is dropped
 * rather than allowed to stop the others.
 */
export interface EventBus<T> {
  publish(message: T): void;
  /** Undefined when the bus is full. Call the returned function to unsubscribe. */
  subscribe(listener: (message: T) => void): (() => void) | undefined;
  readonly size: number;
}

export function createEventBus<T>(maxSubscribers = 64): EventBus<T> {
  const listeners = new Set<(message: T) => void>();
  return {
    publish(message) {
      for (const listener of [...listeners]) {
        try {
          listener(message);
        } catch {
          listeners.delete(listener);
        }
      }
    },
    subscribe(listener) {
      if (listeners.size >= maxSubscribers) return undefined;
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}
