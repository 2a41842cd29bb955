import { droppedBy } from '../../../../services/subscriber/pipeline/warnings';

describe('the drop filter', () => {
  const filter = { warninglists: { drop: ['url-shortener'] } };

  it('names the first dropped list an indicator is on', () => {
    expect(
      droppedBy(filter, [
        { list: 'rfc1918', version: 5 },
        { list: 'url-shortener', version: 27 },
      ]),
    ).toBe('url-shortener');
  });

  it('keeps an indicator on lists the subscription does not drop', () => {
    expect(droppedBy(filter, [{ list: 'rfc1918', version: 5 }])).toBeUndefined();
  });

  it('keeps everything when the subscription drops no list', () => {
    expect(droppedBy({}, [{ list: 'url-shortener', version: 27 }])).toBeUndefined();
  });
});
