import {VersionFolder, scanVersionFolders} from '../../export/versions.js'
import {VersionPolicy} from '../api.js'

/**
 * TF Serving's file-system source: the version folders on disk, and which of them the version
 * policy aspires to serve. The folders themselves are found by the export format's one scan.
 */
export {scanVersionFolders}
export type {VersionFolder}

/**
 * The versions `policy` aspires to, highest first, among `candidates` (versions on disk not known
 * to fail): the `numVersions` highest, all, or those the policy names that are on disk.
 * A candidate that then fails to load is dropped from the candidates and the policy asked again,
 * so `latest` falls back to the highest version that works.
 */
export function aspiredVersions(policy: VersionPolicy, candidates: number[]): number[] {
  const highestFirst = [...candidates].sort((a, b) => b - a)
  switch (policy.kind) {
    case 'latest':
      return highestFirst.slice(0, policy.numVersions)
    case 'all':
      return highestFirst
    case 'specific':
      return highestFirst.filter((version) => policy.versions.includes(version))
  }
}
