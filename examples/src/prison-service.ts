// PRISON_SERVICE: where a prisoner is held, and moving them to another prison.
import { request, type ClientOptions } from './client.js';
import { PlacementDocument, TransferDocument } from './generated/PRISON_SERVICE.js';

/** The prison's name and the expected release date of the person's current detention. */
export async function placement(client: ClientOptions, personId: string, caseReference: string) {
  const { person } = await request(client, PlacementDocument, {
    id: personId,
    purpose: { caseReference, reason: 'DETENTION_MANAGEMENT' },
  });
  return { prison: person.detentionStatus.prison?.name ?? null, expectedRelease: person.detentionStatus.expectedRelease };
}

/** Transfers the person; pass the same idempotency key when retrying. */
export async function transfer(
  client: ClientOptions,
  personId: string,
  toPrisonId: string,
  date: string,
  idempotencyKey: string,
  caseReference: string,
): Promise<string> {
  const { transferDetention } = await request(client, TransferDocument, {
    personId,
    idempotencyKey,
    purpose: { caseReference, reason: 'DETENTION_MANAGEMENT' },
    input: { toPrisonId, date },
  });
  return transferDetention.prison.name;
}
