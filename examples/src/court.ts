// COURT: every conviction of a defendant, with the earliest date each can be expunged.
import { request, type ClientOptions } from './client.js';
import { CriminalRecordDocument, type CriminalRecordQuery } from './generated/COURT.js';

type Conviction = CriminalRecordQuery['searchPersons']['edges'][number]['node']['convictions'][number];

/** All convictions of the persons matching the name and date of birth, page by page. */
export async function criminalRecord(
  client: ClientOptions,
  familyName: string,
  dateOfBirth: string,
  caseReference: string,
): Promise<Map<string, Conviction[]>> {
  const byPerson = new Map<string, Conviction[]>();
  let after: string | null | undefined;
  do {
    const { searchPersons } = await request(client, CriminalRecordDocument, {
      familyName,
      dateOfBirth,
      after,
      purpose: { caseReference, reason: 'CRIMINAL_PROCEEDINGS' },
    });
    for (const { node } of searchPersons.edges) byPerson.set(node.id, node.convictions);
    after = searchPersons.pageInfo.hasNextPage ? searchPersons.pageInfo.endCursor : undefined;
  } while (after);
  return byPerson;
}
