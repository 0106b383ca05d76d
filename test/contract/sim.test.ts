/** The contract suite against the simulator, once per machine profile. */
import { PROFILE_IDS } from '../../src/platform/profiles.js';
import { open } from '../../src/index.js';
import { defineContract } from './contract.js';

for (const profile of PROFILE_IDS) {
  defineContract(`sim ${profile}`, () => open({ backend: 'sim', profile }));
}
