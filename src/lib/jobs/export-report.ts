import {ExportVersionEntry} from '../export/versions.js'
import {ExportCheckpointResult} from './export.js'

const BYTES_PER_KB = 1000

export function formatBytes(bytes: number): string {
  if (bytes < BYTES_PER_KB) return `${bytes} B`
  if (bytes < BYTES_PER_KB ** 2) return `${(bytes / BYTES_PER_KB).toFixed(1)} kB`
  return `${(bytes / BYTES_PER_KB ** 2).toFixed(2)} MB`
}

export function formatExportResult(result: ExportCheckpointResult): string[] {
  const {checkpoint, signature} = result
  const {verification} = signature.provenance
  const share = Math.round((100 * result.sizeBytes) / checkpoint.sizeBytes)
  const onnx = verification.onnxruntime
  return [
    `${result.replaced ? 'Replaced' : 'Exported'} version ${result.version} at ${result.path} from ${checkpoint.name} (step ${checkpoint.step})`,
    `Test accuracy at export: ${result.testAccuracy.toFixed(4)} on ${result.testImages} images`,
    `Verified: stock tf.loadLayersModel reproduces the checkpoint's logits on ${verification.probe_images} images (max abs difference ${verification.max_abs_difference.toExponential(2)} ≤ ${verification.tolerance.toExponential(0)})`,
    onnx
      ? `Verified: ONNX Runtime ${onnx.version} runs model.onnx with the checkpoint's logits on ${verification.probe_images} images (max abs difference ${onnx.max_abs_difference.toExponential(2)} ≤ ${onnx.tolerance.toExponential(0)})`
      : 'No model.onnx (--no-onnx): this version runs on the TF.js engine only',
    `Size: checkpoint ${formatBytes(checkpoint.sizeBytes)} → export ${formatBytes(result.sizeBytes)} (${share}% of the checkpoint; no optimizer state)`,
    ...Object.entries(result.files).map(([name, file]) => `  ${name.padEnd(12)} ${formatBytes(file.bytes).padStart(9)}  sha256 ${file.sha256}`),
    `Signature: tags [${signature.tags.join(', ')}], ${Object.keys(signature.signature_def).join(', ')}: x_input float [-1, 28, 28] → y_output float [-1, 10] (logits)`,
    ...(result.triton
      ? [`Triton: ${result.triton.modelPath}${result.triton.replaced ? ' (replaced)' : ''} and ${result.triton.configPath} (platform onnxruntime_onnx)`]
      : []),
  ]
}

export function formatExportList(exportDir: string, entries: ExportVersionEntry[], unfinished: string[]): string[] {
  if (entries.length === 0 && unfinished.length === 0) return [`No versions in ${exportDir}`]
  const formatsWidth = 'tfjs-layers+onnx'.length
  const lines = [
    `${'version'.padStart(7)}  ${'accuracy'.padStart(8)}  ${'step'.padStart(7)}  ${'size'.padStart(9)}  ${'created'.padEnd(24)}  ${'formats'.padEnd(formatsWidth)}  status`,
  ]
  for (const entry of entries) {
    const accuracy = entry.testAccuracy === undefined ? '—' : entry.testAccuracy.toFixed(4)
    const step = entry.step === undefined ? '—' : String(entry.step)
    const formats = entry.formats?.join('+') ?? '—'
    // An unreadable folder may hold a perfectly good version: say why it cannot be read, not that it is invalid.
    const status = entry.valid ? 'ok' : entry.readable ? `INVALID: ${entry.problem}` : entry.problem
    const size = entry.readable ? formatBytes(entry.sizeBytes) : '—'
    lines.push(
      `${String(entry.version).padStart(7)}  ${accuracy.padStart(8)}  ${step.padStart(7)}  ${size.padStart(9)}  ${(entry.createdAt ?? '—').padEnd(24)}  ${formats.padEnd(formatsWidth)}  ${status}`,
    )
  }
  for (const name of unfinished) lines.push(`${name}: unfinished export (interrupted); ignored by servers, safe to delete`)
  return lines
}
