// The "Resolve…" dialog: retry a booking with another carrier and service and/or a
// corrected ship-to address - the corrections POST /v1/exceptions/{id}/resolve takes.
//
// A corrected address replaces the shipment's whole ship-to, so the form starts from
// the shipment's current one. For a key without the `pii` scope the server masks
// names, streets, phones and emails ("J*** D**"); those fields start empty rather than
// masked, so a masked value can never be sent back as the consignee's address.
import { ApiError, el, request, seg } from './api.js';

const looksMasked = (v) => typeof v === 'string' && v.includes('*');

export class ResolveDialog {
  constructor(onSubmit) {
    this.onSubmit = onSubmit;
    this.dialog = document.getElementById('resolve-dialog');
    this.form = document.getElementById('resolve-form');
    this.carrier = document.getElementById('resolve-carrier');
    this.service = document.getElementById('resolve-service');
    this.addressOn = document.getElementById('resolve-address-on');
    this.address = document.getElementById('resolve-address');
    this.note = document.getElementById('addr-note');
    this.error = document.getElementById('resolve-error');
    this.submit = document.getElementById('resolve-submit');
    this.carriers = [];
    this.carrier.addEventListener('change', () => this.fillServices());
    this.addressOn.addEventListener('change', () => { this.address.hidden = !this.addressOn.checked; });
    document.getElementById('resolve-close').addEventListener('click', () => this.dialog.close());
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
  }

  setCarriers(carriers) {
    this.carriers = carriers;
    this.carrier.replaceChildren(el('option', { value: '', text: 'choose again' }),
      ...carriers.map((c) => el('option', { value: c.name, text: c.name })));
    this.fillServices();
  }

  fillServices() {
    const c = this.carriers.find((x) => x.name === this.carrier.value);
    const services = c ? c.services : [];
    this.service.replaceChildren(...(services.length ? services : ['']).map(
      (s) => el('option', { value: s, text: s || '-' })));
    this.service.disabled = !c;
  }

  async open(entry, row) {
    this.entry = entry;
    this.row = row;
    document.getElementById('resolve-shipment').textContent = entry.shipment_id;
    this.error.textContent = '';
    this.submit.disabled = false;
    this.carrier.value = '';
    this.fillServices();
    this.addressOn.checked = false;
    this.address.hidden = true;
    this.address.querySelectorAll('input').forEach((i) => { i.value = ''; });
    this.note.textContent = '';
    this.dialog.showModal();
    let shipment;
    try {
      shipment = await request('GET', `v1/shipments/${seg(entry.shipment_id)}`);
    } catch (e) {
      this.note.textContent = `The current address could not be read: ${e instanceof ApiError ? e.describe() : e}`;
      return;
    }
    const to = shipment.ship_to || {};
    let masked = false;
    this.address.querySelectorAll('input').forEach((input) => {
      const v = to[input.dataset.field];
      if (looksMasked(v)) masked = true;
      else if (v) input.value = v;
    });
    this.note.textContent = (masked
      ? 'Consignee data is masked for this key: fields shown masked start empty; re-enter them. ' : '') +
      'The corrected address replaces the whole ship-to: empty fields are left out.';
  }

  body() {
    const body = { action: 'retry' };
    if (this.carrier.value) {
      body.carrier = this.carrier.value;
      body.service = this.service.value;
    }
    if (this.addressOn.checked) {
      const ship = {};
      this.address.querySelectorAll('input').forEach((input) => {
        const v = input.value.trim();
        if (v) ship[input.dataset.field] = v;
      });
      body.ship_to = ship;
    }
    return body;
  }

  async send() {
    this.submit.disabled = true;
    this.error.textContent = '';
    const outcome = await this.onSubmit(this.entry, this.body(), this.row);
    this.submit.disabled = false;
    // Refusals (a missing field, an unknown service) keep the dialog open to fix them.
    if (outcome.ok) this.dialog.close();
    else this.error.textContent = outcome.error;
  }
}
