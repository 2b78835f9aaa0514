import { controllerConfig } from './config';

describe('controllerConfig', () => {
  it('applies defaults', () => {
    expect(controllerConfig({})).toEqual({ healthPort: 9090, bind: '0.0.0.0', drainMs: 5000 });
  });

  it('names the variable that is wrong', () => {
    expect(() => controllerConfig({ REWIND_DRAIN_SECONDS: 'soon' })).toThrow(
      /REWIND_DRAIN_SECONDS: /,
    );
  });
});
