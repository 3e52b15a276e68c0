import { api, upload, type Me } from '../api.ts';
import { bytes, h, replace, table, when } from '../dom.ts';
import type { Image } from '../types.ts';

/** Images: upload a signed bundle with progress, and the list. */
export async function imagesPage(root: HTMLElement, me: Me): Promise<void> {
  const { items } = await api<{ items: Image[] }>('GET', '/images');
  const file = h('input', { type: 'file', id: 'bundle-file', accept: '.bundle,application/octet-stream' });
  const progress = h('progress', { id: 'upload-progress', max: 1, value: 0 });
  const status = h('span', { id: 'upload-status' });
  const send = h('button', {
    id: 'upload', class: 'primary',
    onclick: async () => {
      const f = file.files?.[0];
      if (f === undefined) return replace(status, 'choose a bundle file first');
      send.disabled = true;
      replace(status, 'uploading…');
      try {
        const img = await upload<Image>('/images', f, (x) => { progress.value = x; progress.setAttribute('data-progress', x.toFixed(3)); });
        progress.value = 1;
        location.hash = `#/images/${img.id}`;
      } catch (e) {
        replace(status, h('span', { class: 'error' }, e instanceof Error ? e.message : String(e)));
      } finally {
        send.disabled = false;
      }
    },
  }, 'Upload');
  replace(
    root,
    h('h1', null, 'Images'),
    me.role === 'viewer' ? null : h('div', { class: 'toolbar' }, file, send, progress, status),
    table(['Version', 'Product', 'Hardware', 'Size', 'Uploaded', 'Id'], items.map((i) => [
      h('a', { href: `#/images/${i.id}` }, i.version), i.manifest.product ?? '', i.compatible.join(', '), bytes(i.size), when(i.uploadedAt),
      h('code', null, `${i.id.slice(0, 16)}…`), i.devSigned ? h('span', { class: 'warn' }, 'DEV-SIGNED') : '',
    ]), { id: 'images-table' }),
  );
}

/** One image: its manifest, signing keys and release notes (rendered as text, never as HTML). */
export async function imagePage(root: HTMLElement, id: string): Promise<void> {
  const [img, signers] = await Promise.all([api<Image>('GET', `/images/${id}`), api<{ keyids: string[] }>('GET', `/images/${id}/signers`)]);
  const m = img.manifest;
  replace(
    root,
    h('h1', null, `Image ${img.version}`),
    img.devSigned ? h('p', { class: 'warn' }, 'Signed with the server-held DEVELOPMENT key: never roll this out to production devices.') : null,
    table(['', ''], [
      ['Product', m.product ?? ''], ['Version', img.version], ['Security counter', String(m.securityCounter ?? '')],
      ['Compatible hardware', img.compatible.join(', ')], ['Bundle size', bytes(img.size)],
      ['Signing keys', h('span', null, ...signers.keyids.map((k) => h('code', { class: 'pill' }, k.slice(0, 16))))],
      ['Created', m.createdAt ?? ''], ['Expires', m.expiresAt ?? ''], ['Uploaded', when(img.uploadedAt)], ['Id', h('code', null, img.id)],
    ], { id: 'manifest' }),
    h('h2', null, 'Release notes'),
    h('pre', { class: 'notes', id: 'release-notes' }, m.releaseNotes ?? '(none)'),
    h('p', null, h('a', { href: `#/campaigns/new?image=${img.id}` }, 'Start a campaign with this image →')),
  );
}
