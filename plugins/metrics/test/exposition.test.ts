import { expect } from 'chai';
import { parseExposition } from './exposition.js';

// The tests of the plugin lean on this validator; these cases show it refuses what Prometheus refuses.
describe('exposition validator (test helper)', () => {
  const ok =
    '# HELP a_total A counter\n# TYPE a_total counter\na_total{x="1"} 3\n\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n';

  it('accepts a well-formed exposition', () => {
    const families = parseExposition(ok);
    expect(families.get('a_total')).to.deep.include({ help: 'A counter', type: 'counter' });
    expect(families.get('h')!.samples.length).to.equal(4);
  });

  it('rejects malformed expositions', () => {
    const bad: Record<string, string> = {
      'no final newline': ok.trimEnd(),
      'bad metric name': '# TYPE 1a gauge\n1a 1\n',
      'sample of an undeclared family': 'orphan 1\n',
      'unterminated label': '# TYPE g gauge\ng{a="1} 1\n',
      'bad escape': '# TYPE g gauge\ng{a="\\x"} 1\n',
      'value not a number': '# TYPE g gauge\ng one\n',
      'duplicate series': '# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n',
      'TYPE after samples': '# TYPE g gauge\ng 1\n# TYPE g counter\n',
      'non-cumulative buckets': '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '+Inf bucket differs from _count': '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      'histogram without +Inf': '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    };
    for (const [why, text] of Object.entries(bad)) expect(() => parseExposition(text), why).to.throw();
  });
});
