/**
 * In-process notification that events were committed for some campaigns.
 * It carries no data: listeners read the events table from the last id they
 * saw, so a slow or reconnecting listener never misses or duplicates one.
 */
export class EventBus {
  private readonly listeners = new Set<(campaignIds: ReadonlySet<number>) => void>();

  /** Registers a listener; returns the function that removes it. */
  subscribe(fn: (campaignIds: ReadonlySet<number>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tells every listener which campaigns have new events. */
  publish(campaignIds: ReadonlySet<number>): void {
    for (const fn of this.listeners) fn(campaignIds);
  }
}
