import { UniotaError } from '@uniota/errors';

/** Error codes of the fault tester; each is documented in packages/fault-injection/README.md. */
export const FaultTestErrorCode = {
  /** The scenario file is not valid JSON or YAML. */
  SCENARIO_PARSE: 'SCENARIO_PARSE',
  /** The scenario file parses but does not match the schema. */
  SCENARIO_INVALID: 'SCENARIO_INVALID',
  /** An input file (image, deployed image, trust root) is missing or does not verify. */
  INPUT_INVALID: 'INPUT_INVALID',
  /** A flow did not settle even without faults, so no cut point can be derived from it. */
  FLOW_UNSETTLED: 'FLOW_UNSETTLED',
  /** A worker thread failed outside of a scenario (it could not load, or crashed). */
  WORKER_FAILED: 'WORKER_FAILED',
  /** The requested QEMU tier cannot run this image (a simulated image, wrong format, tool missing). */
  QEMU_UNAVAILABLE: 'QEMU_UNAVAILABLE',
  /** A --break configuration is a defect of the in-process bootloader, which a QEMU tier's real bootloader cannot have. */
  BROKEN_UNSUPPORTED: 'BROKEN_UNSUPPORTED',
  /** The run finished and at least one case violated an invariant. */
  VIOLATIONS: 'VIOLATIONS',
} as const;
export type FaultTestErrorCode = (typeof FaultTestErrorCode)[keyof typeof FaultTestErrorCode];

/** The one error type of @uniota/fault-injection. */
export class FaultTestError extends UniotaError<FaultTestErrorCode> {}
