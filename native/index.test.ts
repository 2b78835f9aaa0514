import { nativeBuildDescription, nativeVersion } from './index';
import { version } from '../package.json';

describe('the native addon', () => {
  it('loads and reports the package version', () => {
    expect(nativeVersion()).toBe(version);
    expect(nativeBuildDescription()).toMatch(new RegExp(`^rewind-native ${version} .*c\\+\\+17$`));
  });
});
