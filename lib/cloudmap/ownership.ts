/**
 * The ownership marker: services we create carry `managed-by: <marker>` as
 * their Description. ListServices returns descriptions, so telling our
 * services from foreign ones costs no call per service (tags would).
 */

const PREFIX = 'managed-by: ';

/** The Description given to services created for `marker`. */
export function ownerDescription(marker: string): string {
  return `${PREFIX}${marker}`;
}

/** True when a service Description says it is managed for `marker`. */
export function isOwnedBy(description: string | undefined, marker: string): boolean {
  // Exact match: a service someone re-described is theirs again, and we stop touching it.
  return description === ownerDescription(marker);
}
