import { controllerConfig, controllerVariables } from './config';

describe('controllerConfig', () => {
  it('applies defaults', () => {
    expect(controllerConfig({})).toEqual({
      healthPort: 9090,
      bind: '0.0.0.0',
      drainMs: 5000,
      logLevel: 'info',
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => controllerConfig({ REWIND_DRAIN_SECONDS: 'soon' })).toThrow(
      /^invalid configuration: REWIND_DRAIN_SECONDS="soon": /,
    );
  });

  it('lists the variables it reads', () => {
    expect(controllerVariables).toEqual([
      'REWIND_CONTROLLER_HEALTH_PORT',
      'REWIND_CONTROLLER_BIND',
      'REWIND_DRAIN_SECONDS',
      'REWIND_LOG_LEVEL',
    ]);
  });
});
