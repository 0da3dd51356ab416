/**
 * Ansible inventory (YAML, the `ansible.builtin.yaml` inventory plugin's format): group
 * `recon` with every node that has an inventory, one group per hardware class
 * (`recon_class_<id>`), `recon_outliers` (differs from its class) and `recon_critical` (a critical
 * health finding: broken hardware, whatever its class). Hostvars are `recon_*` copies of the normalized
 * inventory's sections (pci_devices left out: they are in the JSON export).
 *
 * Hardware strings are untrusted, and Ansible templates variables when they are used: a DMI
 * string holding `{{ lookup('pipe', …) }}` would run. Every string that contains `{` is
 * therefore tagged `!unsafe`, which Ansible never templates.
 */
import { Document, Scalar, visit } from "yaml";
import { describeReason } from "../classes.js";
import { exportNames, type ExportInput } from "./export-input.js";

export function ansibleGroup(classId: string): string {
  return `recon_class_${classId.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

export function renderAnsibleExport(input: ExportInput): string {
  const names = exportNames(input.nodes);
  const hosts: Record<string, Record<string, unknown>> = {};
  const classGroups: Record<string, { hosts: Record<string, null> }> = {};
  const outliers: Record<string, null> = {};
  const critical: Record<string, null> = {};
  for (const node of input.nodes) {
    const inv = node.inventory;
    if (inv === undefined) continue;
    const name = names.get(node.mac)!;
    const finding = input.analysis.nodes[node.mac];
    const pxe = inv.interfaces.find((nic) => nic.name === inv.boot.pxe_interface);
    const address = pxe?.ipv4_address ?? node.state?.ip ?? null;
    hosts[name] = {
      ...(address !== null && { ansible_host: address }),
      recon_mac: node.mac,
      recon_hostname: inv.hostname,
      recon_collected_at: inv.collected_at,
      recon_system_vendor: inv.system_vendor,
      recon_firmware: inv.firmware,
      recon_boot: inv.boot,
      recon_bmc: inv.bmc,
      recon_cpu: inv.cpu,
      recon_memory: inv.memory,
      recon_disks: inv.disks,
      recon_interfaces: inv.interfaces,
      recon_gpus: inv.gpus,
      recon_class: finding?.class_id ?? null,
      recon_outlier_reasons: (finding?.reasons ?? []).map(describeReason),
      recon_baseboard: inv.baseboard,
      recon_chassis: inv.chassis,
      recon_power_supplies: inv.power_supplies,
      recon_findings: inv.findings,
      recon_errors: inv.errors,
    };
    if (inv.findings.some((f) => f.severity === "critical")) critical[name] = null;
    if (finding) {
      const group = ansibleGroup(finding.class_id);
      (classGroups[group] ??= { hosts: {} }).hosts[name] = null;
      if (finding.reasons.length > 0) outliers[name] = null;
    }
  }
  const sortedGroups = Object.fromEntries(Object.entries(classGroups).sort(([a], [b]) => a.localeCompare(b)));
  // YAML 1.1 is what Ansible's PyYAML reads: there `52:54:00:01:00:01` is a base-60 integer and
  // `2021-03-15` a date unless quoted, so the document is written with that schema's quoting.
  const document = new Document(
    { all: { children: { recon: { hosts }, ...sortedGroups, recon_outliers: { hosts: outliers }, recon_critical: { hosts: critical } } } },
    { version: "1.1" },
  );
  visit(document, {
    Scalar(key, node) {
      // Values and list items, not keys (ours); the tag stops Jinja templating (see above).
      if (key !== "key" && typeof node.value === "string" && node.value.includes("{")) {
        node.tag = "!unsafe";
        node.type = Scalar.QUOTE_SINGLE;
      }
    },
  });
  return `# recon fleet inventory, generated ${input.generatedAt}\n${document.toString({ lineWidth: 0, nullStr: "" })}`;
}
